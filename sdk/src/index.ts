// @relay/sdk: agent runs on relay, with the custom tools running in this process.
export {
  type Agent,
  type AgentOptions,
  type ChatMessage,
  createAgent,
  type RunInfo,
  type RunOptions,
  type RunStatus,
} from "./agent";
export { RelayError, type RelayErrorInit, RunError } from "./errors";
export type {
  DoneEvent,
  RunErrorEvent,
  RunEvent,
  TokenEvent,
  ToolCallEvent,
  ToolResultEvent,
  Usage,
} from "./events";
export type { FetchLike } from "./http";
export type { AnthropicModel, ModelId, OpenAIModel } from "./models";
export type { AgentRun, RunResult, RunStarted } from "./run";
export type {
  BuiltinTool,
  BuiltinToolName,
  FunctionTool,
  JsonSchema,
  ToolContext,
  ToolDefinition,
  WireTool,
} from "./tools";
