// @ts-check
/**
 * Typed client for the LLM gateway's HTTP API: an ES module with no build step.
 * Types live in client.d.ts next to this file; JSDoc below refers to them.
 * @module
 */

/** @typedef {import("./client.js").ClientOptions} ClientOptions */
/** @typedef {import("./client.js").RequestOptions} RequestOptions */
/** @typedef {import("./client.js").GatewayHealth} GatewayHealth */
/** @typedef {import("./client.js").Provider} Provider */
/** @typedef {import("./client.js").ProviderCreate} ProviderCreate */
/** @typedef {import("./client.js").ProviderUpdate} ProviderUpdate */
/** @typedef {import("./client.js").ProviderFilter} ProviderFilter */
/** @typedef {import("./client.js").Template} Template */
/** @typedef {import("./client.js").Model} Model */
/** @typedef {import("./client.js").ProviderModels} ProviderModels */
/** @typedef {import("./client.js").ProviderHealth} ProviderHealth */
/** @typedef {import("./client.js").ProviderTestRequest} ProviderTestRequest */
/** @typedef {import("./client.js").ProviderTestResult} ProviderTestResult */
/** @typedef {import("./client.js").ProviderDraftTestRequest} ProviderDraftTestRequest */
/** @typedef {import("./client.js").KeyCreate} KeyCreate */
/** @typedef {import("./client.js").KeyInfo} KeyInfo */
/** @typedef {import("./client.js").CreatedKey} CreatedKey */
/** @typedef {import("./client.js").KeyUpdate} KeyUpdate */
/** @typedef {import("./client.js").UsageQuery} UsageQuery */
/** @typedef {import("./client.js").UsageReport} UsageReport */
/** @typedef {import("./client.js").UsageLogQuery} UsageLogQuery */
/** @typedef {import("./client.js").UsageLogPage} UsageLogPage */
/** @typedef {import("./client.js").MyUsage} MyUsage */
/** @typedef {import("./client.js").ChatCompletionRequest} ChatCompletionRequest */
/** @typedef {import("./client.js").ChatCompletion} ChatCompletion */
/** @typedef {import("./client.js").ChatCompletionChunk} ChatCompletionChunk */
/** @typedef {import("./client.js").ChatResult} ChatResult */
/** @typedef {import("./client.js").EmbeddingsRequest} EmbeddingsRequest */
/** @typedef {import("./client.js").Embeddings} Embeddings */
/** @typedef {import("./client.js").ChatStream} ChatStream */
/** @typedef {import("./client.js").ResponseRequest} ResponseRequest */
/** @typedef {import("./client.js").ResponseObject} ResponseObject */
/** @typedef {import("./client.js").ResponseItemList} ResponseItemList */
/** @typedef {import("./client.js").MessagesRequest} MessagesRequest */
/** @typedef {import("./client.js").Message} Message */
/** @typedef {import("./client.js").MessageTokenCount} MessageTokenCount */
/**
 * @template T
 * @typedef {import("./client.js").ListResponse<T>} ListResponse
 */

/** An error answer from the gateway (or a network failure, with status 0). */
export class GatewayError extends Error {
  /**
   * @param {number} status
   * @param {string} type
   * @param {string | null} code
   * @param {string} message
   * @param {string | null} requestId
   * @param {string | null} [param]
   */
  constructor(status, type, code, message, requestId, param = null) {
    super(message);
    /** @type {"GatewayError"} */
    this.name = "GatewayError";
    this.status = status;
    this.type = type;
    this.code = code;
    this.requestId = requestId;
    this.param = param;
  }
}

/**
 * Build a GatewayError from OpenAI's error body `{"error": {...}}` (or anything else).
 * @param {number} status
 * @param {unknown} body
 * @param {string | null} requestId
 * @returns {GatewayError}
 */
function errorFromBody(status, body, requestId) {
  const inner =
    body && typeof body === "object" && "error" in body ? /** @type {{error: unknown}} */ (body).error : null;
  if (inner && typeof inner === "object") {
    const e = /** @type {Record<string, unknown>} */ (inner);
    return new GatewayError(
      status,
      typeof e.type === "string" ? e.type : "error",
      typeof e.code === "string" ? e.code : null,
      typeof e.message === "string" ? e.message : `HTTP ${status}`,
      requestId,
      typeof e.param === "string" ? e.param : null,
    );
  }
  if (typeof inner === "string") {
    return new GatewayError(status, "error", null, inner, requestId);
  }
  return new GatewayError(status, "error", null, `HTTP ${status}`, requestId);
}

/**
 * Read a failed response into a GatewayError.
 * @param {Response} response
 * @returns {Promise<GatewayError>}
 */
async function errorFromResponse(response) {
  const requestId = response.headers.get("X-Request-ID");
  /** @type {unknown} */
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  return errorFromBody(response.status, body, requestId);
}

/**
 * Split an SSE byte stream into the `data:` payloads of its events.
 * Comment lines (": keep-alive") and other fields are ignored.
 * @param {ReadableStream<Uint8Array>} body
 * @param {AbortSignal} [signal]
 * @returns {AsyncGenerator<string, void, undefined>}
 */
export async function* sseData(body, signal) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  /** @type {string[]} */
  let data = [];
  try {
    for (;;) {
      if (signal?.aborted) throw signal.reason ?? new DOMException("Aborted", "AbortError");
      const { value, done } = await reader.read();
      buffer += done ? decoder.decode() : decoder.decode(value, { stream: true });
      const lines = buffer.split(/\r\n|\r|\n/);
      // The last piece may be an incomplete line; keep it for the next read.
      buffer = done ? "" : (lines.pop() ?? "");
      if (done && lines.length && lines[lines.length - 1] !== "") lines.push("");
      for (const line of lines) {
        if (line === "") {
          if (data.length) yield data.join("\n");
          data = [];
        } else if (line.startsWith("data:")) {
          data.push(line.slice(line.startsWith("data: ") ? 6 : 5));
        }
      }
      if (done) return;
    }
  } finally {
    // Ends the HTTP response when the consumer stops early (break, abort, error).
    reader.cancel().catch(() => undefined);
  }
}

/**
 * @param {ReadableStream<Uint8Array>} body
 * @param {string | null} requestId
 * @param {AbortSignal | undefined} signal
 * @returns {AsyncGenerator<ChatCompletionChunk, void, undefined>}
 */
async function* chunks(body, requestId, signal) {
  for await (const payload of sseData(body, signal)) {
    if (payload === "[DONE]") return;
    /** @type {unknown} */
    const parsed = JSON.parse(payload);
    if (parsed && typeof parsed === "object" && "error" in parsed) {
      throw errorFromBody(502, parsed, requestId);
    }
    yield /** @type {ChatCompletionChunk} */ (parsed);
  }
}

/**
 * @param {Record<string, string | number | boolean | undefined>} query
 * @returns {string}
 */
function queryString(query) {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined) params.set(name, String(value));
  }
  const text = params.toString();
  return text ? `?${text}` : "";
}

/** Talks to one gateway with one key; every method maps to one endpoint. */
export class GatewayClient {
  /** @type {string | null} */
  #apiKey;
  /** @type {typeof fetch} */
  #fetch;

  /** @param {ClientOptions} [options] */
  constructor(options = {}) {
    /** @type {string} */
    this.baseUrl = (options.baseUrl ?? "").replace(/\/+$/, "");
    this.#apiKey = options.apiKey ?? null;
    const given = options.fetch;
    this.#fetch = given ? given : (input, init) => globalThis.fetch(input, init);
  }

  /** @param {string | null} apiKey */
  setApiKey(apiKey) {
    this.#apiKey = apiKey;
  }

  /** @returns {boolean} */
  hasApiKey() {
    return Boolean(this.#apiKey);
  }

  /**
   * Send one request; non-2xx answers and network failures throw GatewayError.
   * @param {string} method
   * @param {string} path
   * @param {{body?: unknown, signal?: AbortSignal, accept?: string}} [init]
   * @returns {Promise<Response>}
   */
  async #send(method, path, init = {}) {
    /** @type {Record<string, string>} */
    const headers = { Accept: init.accept ?? "application/json" };
    if (this.#apiKey) headers.Authorization = `Bearer ${this.#apiKey}`;
    /** @type {RequestInit} */
    const request = { method, headers, signal: init.signal, credentials: "omit", cache: "no-store" };
    if (init.body !== undefined) {
      headers["Content-Type"] = "application/json";
      request.body = JSON.stringify(init.body);
    }
    let response;
    try {
      response = await this.#fetch(`${this.baseUrl}${path}`, request);
    } catch (error) {
      if (error instanceof DOMException && error.name === "AbortError") throw error;
      const message = error instanceof Error ? error.message : String(error);
      throw new GatewayError(0, "network_error", null, `Network error: ${message}`, null);
    }
    if (!response.ok) throw await errorFromResponse(response);
    return response;
  }

  /**
   * @template T
   * @param {string} method
   * @param {string} path
   * @param {unknown} [body]
   * @param {RequestOptions} [options]
   * @returns {Promise<T>}
   */
  async #json(method, path, body, options = {}) {
    const response = await this.#send(method, path, { body, signal: options.signal });
    return /** @type {Promise<T>} */ (response.json());
  }

  /**
   * @param {string} path
   * @param {RequestOptions} [options]
   * @returns {Promise<void>}
   */
  async #delete(path, options = {}) {
    const response = await this.#send("DELETE", path, { signal: options.signal });
    await response.body?.cancel();
  }

  /**
   * @param {RequestOptions} [options]
   * @returns {Promise<GatewayHealth>}
   */
  health(options) {
    return this.#json("GET", "/api/v1/health", undefined, options);
  }

  /**
   * @param {ProviderFilter} [filter]
   * @param {RequestOptions} [options]
   * @returns {Promise<ListResponse<Provider>>}
   */
  listProviders(filter = {}, options) {
    const query = queryString({ enabled: filter.enabled, template: filter.template });
    return this.#json("GET", `/api/v1/providers${query}`, undefined, options);
  }

  /**
   * @param {string} id
   * @param {RequestOptions} [options]
   * @returns {Promise<Provider>}
   */
  getProvider(id, options) {
    return this.#json("GET", `/api/v1/providers/${encodeURIComponent(id)}`, undefined, options);
  }

  /**
   * @param {ProviderCreate} body
   * @param {RequestOptions} [options]
   * @returns {Promise<Provider>}
   */
  createProvider(body, options) {
    return this.#json("POST", "/api/v1/providers", body, options);
  }

  /**
   * @param {string} id
   * @param {ProviderUpdate} body
   * @param {RequestOptions} [options]
   * @returns {Promise<Provider>}
   */
  updateProvider(id, body, options) {
    return this.#json("PATCH", `/api/v1/providers/${encodeURIComponent(id)}`, body, options);
  }

  /**
   * @param {string} id
   * @param {RequestOptions} [options]
   * @returns {Promise<void>}
   */
  deleteProvider(id, options) {
    return this.#delete(`/api/v1/providers/${encodeURIComponent(id)}`, options);
  }

  /**
   * @param {RequestOptions} [options]
   * @returns {Promise<ListResponse<Template>>}
   */
  listTemplates(options) {
    return this.#json("GET", "/api/v1/templates", undefined, options);
  }

  /**
   * @param {string} id
   * @param {RequestOptions} [options]
   * @returns {Promise<Template>}
   */
  getTemplate(id, options) {
    return this.#json("GET", `/api/v1/templates/${encodeURIComponent(id)}`, undefined, options);
  }

  /**
   * @param {string} id
   * @param {RequestOptions} [options]
   * @returns {Promise<ProviderModels>}
   */
  listProviderModels(id, options) {
    const path = `/api/v1/providers/${encodeURIComponent(id)}/models`;
    return this.#json("GET", path, undefined, options);
  }

  /**
   * @param {string} id
   * @param {RequestOptions} [options]
   * @returns {Promise<ProviderModels>}
   */
  refreshProviderModels(id, options) {
    const path = `/api/v1/providers/${encodeURIComponent(id)}/models/refresh`;
    return this.#json("POST", path, undefined, options);
  }

  /**
   * @param {string} id
   * @param {RequestOptions} [options]
   * @returns {Promise<ProviderHealth>}
   */
  providerHealth(id, options) {
    const path = `/api/v1/providers/${encodeURIComponent(id)}/health`;
    return this.#json("GET", path, undefined, options);
  }

  /**
   * @param {string} id
   * @param {ProviderTestRequest} [body]
   * @param {RequestOptions} [options]
   * @returns {Promise<ProviderTestResult>}
   */
  testProvider(id, body = {}, options) {
    const path = `/api/v1/providers/${encodeURIComponent(id)}/test`;
    return this.#json("POST", path, body, options);
  }

  /**
   * @param {ProviderDraftTestRequest} body
   * @param {RequestOptions} [options]
   * @returns {Promise<ProviderTestResult>}
   */
  testProviderDraft(body, options) {
    return this.#json("POST", "/api/v1/providers/test", body, options);
  }

  /**
   * @param {RequestOptions} [options]
   * @returns {Promise<ListResponse<Model>>}
   */
  listModels(options) {
    return this.#json("GET", "/api/v1/models", undefined, options);
  }

  /**
   * One model by its id (`provider/model`; the slashes stay path separators).
   * @param {string} id
   * @param {RequestOptions} [options]
   * @returns {Promise<Model>}
   */
  getModel(id, options) {
    const path = `/api/v1/models/${id.split("/").map(encodeURIComponent).join("/")}`;
    return this.#json("GET", path, undefined, options);
  }

  /**
   * @param {RequestOptions} [options]
   * @returns {Promise<ListResponse<KeyInfo>>}
   */
  listKeys(options) {
    return this.#json("GET", "/api/v1/keys", undefined, options);
  }

  /**
   * @param {string} id
   * @param {RequestOptions} [options]
   * @returns {Promise<KeyInfo>}
   */
  getKey(id, options) {
    return this.#json("GET", `/api/v1/keys/${encodeURIComponent(id)}`, undefined, options);
  }

  /**
   * @param {KeyCreate} body
   * @param {RequestOptions} [options]
   * @returns {Promise<CreatedKey>}
   */
  createKey(body, options) {
    return this.#json("POST", "/api/v1/keys", body, options);
  }

  /**
   * @param {string} id
   * @param {RequestOptions} [options]
   * @returns {Promise<void>}
   */
  revokeKey(id, options) {
    return this.#delete(`/api/v1/keys/${encodeURIComponent(id)}`, options);
  }

  /**
   * @param {string} id
   * @param {KeyUpdate} body
   * @param {RequestOptions} [options]
   * @returns {Promise<KeyInfo>}
   */
  updateKey(id, body, options) {
    return this.#json("PATCH", `/api/v1/keys/${encodeURIComponent(id)}`, body, options);
  }

  /**
   * @param {UsageQuery} [query]
   * @param {RequestOptions} [options]
   * @returns {Promise<UsageReport>}
   */
  getUsage(query = {}, options) {
    const { group_by: groupBy, ...rest } = query;
    const text = queryString({ ...rest, group_by: groupBy?.join(",") });
    return this.#json("GET", `/api/v1/usage${text}`, undefined, options);
  }

  /**
   * @param {UsageLogQuery} [query]
   * @param {RequestOptions} [options]
   * @returns {Promise<UsageLogPage>}
   */
  listUsageLogs(query = {}, options) {
    return this.#json("GET", `/api/v1/usage/logs${queryString({ ...query })}`, undefined, options);
  }

  /**
   * @param {RequestOptions} [options]
   * @returns {Promise<MyUsage>}
   */
  getMyUsage(options) {
    return this.#json("GET", "/api/v1/usage/me", undefined, options);
  }

  /**
   * @param {ChatCompletionRequest} body
   * @param {RequestOptions} [options]
   * @returns {Promise<ChatResult>}
   */
  async chatCompletion(body, options = {}) {
    const response = await this.#send("POST", "/api/v1/chat/completions", {
      body: { ...body, stream: false },
      signal: options.signal,
    });
    /** @type {ChatCompletion} */
    const completion = await response.json();
    return {
      completion,
      provider: response.headers.get("X-Gateway-Provider"),
      requestId: response.headers.get("X-Request-ID"),
    };
  }

  /**
   * @param {EmbeddingsRequest} body
   * @param {RequestOptions} [options]
   * @returns {Promise<Embeddings>}
   */
  createEmbeddings(body, options) {
    return this.#json("POST", "/api/v1/embeddings", body, options);
  }

  /**
   * A Responses API answer (not streamed; stream with an OpenAI SDK).
   * @param {ResponseRequest} body
   * @param {RequestOptions} [options]
   * @returns {Promise<ResponseObject>}
   */
  createResponse(body, options) {
    return this.#json("POST", "/api/v1/responses", { ...body, stream: false }, options);
  }

  /**
   * @param {string} id
   * @param {RequestOptions} [options]
   * @returns {Promise<ResponseObject>}
   */
  getResponse(id, options) {
    return this.#json("GET", `/api/v1/responses/${encodeURIComponent(id)}`, undefined, options);
  }

  /**
   * @param {string} id
   * @param {RequestOptions} [options]
   * @returns {Promise<void>}
   */
  deleteResponse(id, options) {
    return this.#delete(`/api/v1/responses/${encodeURIComponent(id)}`, options);
  }

  /**
   * @param {string} id
   * @param {RequestOptions} [options]
   * @returns {Promise<ResponseItemList>}
   */
  listResponseInputItems(id, options) {
    const path = `/api/v1/responses/${encodeURIComponent(id)}/input_items`;
    return this.#json("GET", path, undefined, options);
  }

  /**
   * Anthropic's Messages API, answered whole (Anthropic's SDKs stream it themselves).
   * @param {MessagesRequest} body
   * @param {RequestOptions} [options]
   * @returns {Promise<Message>}
   */
  createMessage(body, options) {
    return this.#json("POST", "/api/v1/messages", { ...body, stream: false }, options);
  }

  /**
   * Input tokens of a Messages request: exact from Anthropic providers, else an estimate.
   * @param {Omit<MessagesRequest, "max_tokens">} body
   * @param {RequestOptions} [options]
   * @returns {Promise<MessageTokenCount>}
   */
  countMessageTokens(body, options) {
    return this.#json("POST", "/api/v1/messages/count_tokens", body, options);
  }

  /**
   * @param {ChatCompletionRequest} body
   * @param {RequestOptions} [options]
   * @returns {Promise<ChatStream>}
   */
  async streamChat(body, options = {}) {
    const signal = options.signal;
    const response = await this.#send("POST", "/api/v1/chat/completions", {
      body: { ...body, stream: true },
      signal,
      accept: "text/event-stream",
    });
    const requestId = response.headers.get("X-Request-ID");
    const stream = response.body;
    if (!stream) throw new GatewayError(502, "api_error", null, "Empty stream", requestId);
    return {
      provider: response.headers.get("X-Gateway-Provider"),
      requestId,
      [Symbol.asyncIterator]: () => chunks(stream, requestId, signal),
    };
  }
}
