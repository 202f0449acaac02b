// Runs in the page: call every GatewayClient method against a recording fetch.
// Returns the "METHOD path" each method sent, for comparison with the gateway's routes.
async () => {
  const m = await import("/ui/api/client.js");
  const sent = [];
  const record = async (url, request) => {
    sent.push(`${request.method} ${new URL(url, location.href).pathname}`);
    const stream = request.headers.Accept === "text/event-stream";
    const body = stream ? "data: [DONE]\n\n" : "{}";
    const type = stream ? "text/event-stream" : "application/json";
    return new Response(body, { status: 200, headers: { "Content-Type": type } });
  };
  const gw = new m.GatewayClient({ apiKey: "k", fetch: record });
  const chat = { model: "p/m", messages: [{ role: "user", content: "hi" }] };
  const calls = {
    health: () => gw.health(),
    listProviders: () => gw.listProviders(),
    getProvider: () => gw.getProvider("ID"),
    createProvider: () => gw.createProvider({ name: "n", template: "openai" }),
    updateProvider: () => gw.updateProvider("ID", { enabled: false }),
    deleteProvider: () => gw.deleteProvider("ID"),
    listTemplates: () => gw.listTemplates(),
    getTemplate: () => gw.getTemplate("ID"),
    listProviderModels: () => gw.listProviderModels("ID"),
    refreshProviderModels: () => gw.refreshProviderModels("ID"),
    providerHealth: () => gw.providerHealth("ID"),
    testProvider: () => gw.testProvider("ID"),
    testProviderDraft: () => gw.testProviderDraft({ provider: { name: "n", template: "openai" } }),
    listModels: () => gw.listModels(),
    getModel: () => gw.getModel("ID"),
    listKeys: () => gw.listKeys(),
    getKey: () => gw.getKey("ID"),
    createKey: () => gw.createKey({ name: "n" }),
    revokeKey: () => gw.revokeKey("ID"),
    updateKey: () => gw.updateKey("ID", { budget_usd: 5 }),
    getUsage: () => gw.getUsage({ group_by: ["day", "model"] }),
    listUsageLogs: () => gw.listUsageLogs({ limit: 10 }),
    getMyUsage: () => gw.getMyUsage(),
    chatCompletion: () => gw.chatCompletion(chat),
    createEmbeddings: () => gw.createEmbeddings({ model: "e", input: "x" }),
    createResponse: () => gw.createResponse({ model: "p/m", input: "hi" }),
    getResponse: () => gw.getResponse("ID"),
    deleteResponse: () => gw.deleteResponse("ID"),
    listResponseInputItems: () => gw.listResponseInputItems("ID"),
    createMessage: () => gw.createMessage({ model: "m", max_tokens: 8, messages: chat.messages }),
    countMessageTokens: () => gw.countMessageTokens({ model: "m", messages: chat.messages }),
    streamChat: async () => {
      for await (const _ of await gw.streamChat(chat)) {
        // drain
      }
    },
  };
  const methods = Object.getOwnPropertyNames(m.GatewayClient.prototype).filter(
    (name) => name !== "constructor" && name !== "setApiKey" && name !== "hasApiKey",
  );
  for (const name of Object.keys(calls)) await calls[name]();
  return { sent, methods: methods.sort(), called: Object.keys(calls).sort() };
}
