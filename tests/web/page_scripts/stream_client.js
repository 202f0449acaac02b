// Runs in the page: streamChat against scripted fetch answers.
// Covers chunk boundaries anywhere, CRLF, comments, [DONE], error events and abort.
async () => {
  const m = await import("/ui/api/client.js");
  const enc = new TextEncoder();
  const chunk = (text) =>
    JSON.stringify({
      id: "c",
      object: "chat.completion.chunk",
      created: 1,
      model: "m",
      choices: [{ index: 0, delta: { content: text }, finish_reason: null }],
    });
  const usage = JSON.stringify({
    id: "c",
    object: "chat.completion.chunk",
    created: 1,
    model: "m",
    choices: [],
    usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 },
  });
  const wire =
    ": keep-alive\r\n\r\n" +
    `data: ${chunk("Hel")}\n\n` +
    `data:${chunk("lo")}\r\n\r\n` +
    `data: ${usage}\n\n` +
    "data: [DONE]\n\n" +
    `data: ${chunk("after done")}\n\n`;
  const seen = [];
  const respond = (text, pieces) => async (url, request) => {
    seen.push({ url, auth: request.headers.Authorization, body: JSON.parse(request.body) });
    const bytes = enc.encode(text);
    const size = Math.ceil(bytes.length / pieces);
    const body = new ReadableStream({
      start(c) {
        for (let i = 0; i < bytes.length; i += size) c.enqueue(bytes.slice(i, i + size));
        c.close();
      },
    });
    const headers = {
      "Content-Type": "text/event-stream",
      "X-Gateway-Provider": "fake",
      "X-Request-ID": "rid-1",
    };
    return new Response(body, { status: 200, headers });
  };
  const question = { model: "p/m", messages: [{ role: "user", content: "hi" }] };

  const out = {};
  for (const pieces of [1, 7, 97, 1000]) {
    const client = new m.GatewayClient({ apiKey: "sk-test", fetch: respond(wire, pieces) });
    const stream = await client.streamChat(question);
    let text = "";
    let total = null;
    for await (const c of stream) {
      if (c.usage) total = c.usage.total_tokens;
      for (const choice of c.choices) text += choice.delta.content ?? "";
    }
    out[pieces] = { text, usage: total, provider: stream.provider };
  }

  const errorEvent = {
    error: { message: "upstream reset", type: "upstream_error", code: "upstream_error", param: null },
  };
  const broken = `data: ${chunk("partial")}\n\ndata: ${JSON.stringify(errorEvent)}\n\n`;
  const failing = new m.GatewayClient({ fetch: respond(broken, 3) });
  let err = null;
  let got = "";
  try {
    for await (const c of await failing.streamChat(question)) got += c.choices[0].delta.content;
  } catch (e) {
    err = { name: e.name, type: e.type, message: e.message, rid: e.requestId };
  }

  const controller = new AbortController();
  const endless = new m.GatewayClient({
    fetch: async () =>
      new Response(
        new ReadableStream({
          start(c) {
            c.enqueue(enc.encode(`data: ${chunk("tick")}\n\n`));
          },
        }),
        { status: 200 },
      ),
  });
  let aborted = null;
  let ticks = 0;
  try {
    const stream = await endless.streamChat(question, { signal: controller.signal });
    for await (const _ of stream) {
      ticks += 1;
      controller.abort();
    }
  } catch (e) {
    aborted = e.name;
  }
  return { out, seen: seen[0], err, got, aborted, ticks };
}
