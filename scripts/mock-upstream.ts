import { startMockUpstream } from "../tests/mocks/upstream";

// `npm run mock [-- PORT]`: a local stand-in for OpenAI and Anthropic (the one the tests use), so
// relay can be tried without a provider key. It answers in both wire formats, streams, and calls
// two tools (get_weather, get_time) when a request offers tools.

const port = Number(process.argv[2] ?? process.env.RELAY_MOCK_PORT ?? 8799);
const mock = await startMockUpstream(port);
console.log(`mock upstream on ${mock.url}
  OpenAI-compatible: ${mock.url}/openai/v1   (key: sk-test-openai)
  Anthropic:         ${mock.url}/anthropic   (key: sk-ant-test)

Point a credential of your tenant at it, then use the model "mock:<any name>":
  curl -X PUT http://127.0.0.1:8787/v1/credentials/mock -H "authorization: Bearer $KEY" \\
    -H 'content-type: application/json' -d '{"apiKey":"sk-test-openai","baseUrl":"${mock.url}/openai/v1"}'
Press Ctrl-C to stop.`);
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.on(signal, () => void mock.close().then(() => process.exit(0)));
}
