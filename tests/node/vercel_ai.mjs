// The Vercel AI SDK's default OpenAI provider (Responses API) against the gateway.
// Usage (tests/node/runner.py): node vercel_ai.mjs BASE_URL MODEL...; prints one JSON object: what it saw per model.
import { createOpenAI } from "@ai-sdk/openai";
import { generateText, jsonSchema, stepCountIs, streamText, tool } from "ai";

const [baseURL, ...models] = process.argv.slice(2);
const openai = createOpenAI({ baseURL, apiKey: "unused" });

async function run(model) {
const plain = await generateText({ model: openai(model), prompt: "Say hi" });

const streamed = streamText({ model: openai(model), prompt: "Say hi" });
let text = "";
for await (const delta of streamed.textStream) text += delta;

const calls = [];
const withTool = await generateText({
  model: openai(model),
  prompt: "Weather in Paris?",
  stopWhen: stepCountIs(2),
  tools: {
    get_weather: tool({
      description: "Weather in a city",
      inputSchema: jsonSchema({
        type: "object",
        properties: { city: { type: "string" } },
        required: ["city"],
        additionalProperties: false,
      }),
      execute: async ({ city }) => {
        calls.push(city);
        return `sunny in ${city}`;
      },
    }),
  },
});

return {
    text: plain.text,
    usage: plain.usage,
    streamed: text,
    streamedUsage: await streamed.usage,
    calls,
    steps: withTool.steps.length,
    final: withTool.text,
  };
}

const seen = {};
for (const model of models) seen[model] = await run(model);
console.log(JSON.stringify(seen));
