// The agent quick start: relay runs the model loop; the two tools run here, in this process.
//   RELAY_URL=http://127.0.0.1:8787 RELAY_API_KEY=relay_live_… npx tsx examples/weather-agent.ts
// RELAY_MODEL picks the model (any model relay can route: claude-*, gpt-*, groq:…, local:…).
import { createAgent } from "@relay/sdk";
import { z } from "zod";

const agent = createAgent({
  model: process.env.RELAY_MODEL ?? "claude-sonnet-4-6",
  system: "Answer in one sentence.",
  tools: {
    get_weather: {
      description: "Current weather in a city",
      inputSchema: z.object({ city: z.string(), unit: z.enum(["celsius", "fahrenheit"]).optional() }),
      handler: async ({ city, unit }) => ({
        city,
        sky: "sunny",
        temperature: unit === "fahrenheit" ? 70 : 21,
      }),
    },
    get_time: {
      description: "Local time in an IANA time zone",
      inputSchema: z.object({ timezone: z.string() }),
      handler: async ({ timezone }) => new Date().toLocaleTimeString("en-GB", { timeZone: timezone }),
    },
  },
});

const run = agent.run("What is the weather in Paris, and what time is it there?");
for await (const event of run) {
  if (event.type === "token") process.stdout.write(event.text);
  else console.log(`\n${JSON.stringify(event)}`);
}
const { runId, usage } = await run.result();
console.log(`\nrun ${runId}: ${usage.input_tokens} input and ${usage.output_tokens} output tokens`);
