// Answers one tool call: check the input, run the handler, and turn any failure into a result the
// model can read, so that a bad call costs the model a turn instead of failing the run.
import type { ToolCallEvent } from "./events";
import type { LocalTool, ToolContext } from "./tools";

/** The JSON body to post for the call; it never throws. */
export async function answerToolCall(
  tool: LocalTool | undefined,
  call: ToolCallEvent,
  context: ToolContext,
): Promise<string> {
  let output: unknown;
  if (!tool) {
    output = { error: `unknown tool: ${call.name}` };
  } else {
    // A refinement of the user's schema may itself throw; that too is an input the tool cannot take.
    const checked = await tool.check(call.input).catch((err: unknown) => ({
      ok: false as const,
      message: err instanceof Error ? err.message : String(err),
    }));
    if (!checked.ok) {
      output = { error: `invalid tool input: ${checked.message}` };
    } else {
      try {
        output = await tool.handler(checked.value, context);
      } catch (err) {
        output = { error: err instanceof Error ? err.message : String(err) };
      }
    }
  }
  try {
    // A handler that returns nothing answers null: relay requires the `output` key.
    return JSON.stringify({ output: output === undefined ? null : output });
  } catch (err) {
    return JSON.stringify({
      output: { error: `tool result is not JSON: ${err instanceof Error ? err.message : String(err)}` },
    });
  }
}
