// The official `openai` npm SDK, with its defaults, against the gateway.
// Usage: node openai_sdk.mjs BASE_URL CHAT_MODEL [EMBEDDING_MODEL]; prints a JSON report.
import OpenAI from "openai";

const [baseURL, model, embeddingModel] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey: "gateway-key", maxRetries: 0 });
const messages = [{ role: "user", content: "What is the weather in Paris?" }];
const tools = [
  {
    type: "function",
    function: {
      name: "get_weather",
      parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
    },
  },
];
const report = {};

const answer = await client.chat.completions.create({ model, messages });
report.chat = {
  content: answer.choices[0].message.content,
  finish: answer.choices[0].finish_reason,
  usage: answer.usage,
};

const stream = await client.chat.completions.create({
  model,
  messages,
  stream: true,
  stream_options: { include_usage: true },
});
let text = "";
let usage = null;
for await (const chunk of stream) {
  text += chunk.choices[0]?.delta?.content ?? "";
  if (chunk.usage) usage = chunk.usage;
}
report.stream = { content: text, usage };

// The SDK's helper assembles streamed tool calls and checks the final completion.
const runner = client.chat.completions.stream({ model, messages, tools });
const final = await runner.finalChatCompletion();
report.tools = (final.choices[0].message.tool_calls ?? []).map((c) => ({
  name: c.function.name,
  arguments: JSON.parse(c.function.arguments),
}));

const retrieved = await client.models.retrieve(model);
report.model = { id: retrieved.id, owned_by: retrieved.owned_by };

if (embeddingModel) {
  const embedded = await client.embeddings.create({ model: embeddingModel, input: ["a", "bb"] });
  report.embeddings = embedded.data.map((d) => Array.from(d.embedding));
  report.embeddingUsage = embedded.usage;
}
process.stdout.write(JSON.stringify(report));
