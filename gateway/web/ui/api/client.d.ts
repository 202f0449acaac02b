/**
 * Typed client for the LLM gateway's HTTP API.
 *
 * Import it from a Vite + TypeScript web UI:
 *   import { GatewayClient } from "http://HOST/ui/api/client.js" (or a vendored copy);
 *   const gw = new GatewayClient({ baseUrl: import.meta.env.VITE_API_URL, apiKey });
 * The key lives only in this object's memory.
 */

/** OpenAI's list envelope, used by every list endpoint. */
export interface ListResponse<T> {
  object: "list";
  data: T[];
}

/** Raised for every non-2xx answer and for an error event inside a stream. */
export declare class GatewayError extends Error {
  constructor(
    status: number,
    type: string,
    code: string | null,
    message: string,
    requestId: string | null,
    param?: string | null,
  );
  readonly name: "GatewayError";
  /** HTTP status (0 for a network failure). */
  readonly status: number;
  /** OpenAI error type, e.g. "invalid_request_error". */
  readonly type: string;
  readonly code: string | null;
  /** The X-Request-ID of the failed response, to quote in bug reports. */
  readonly requestId: string | null;
  /** The invalid field path, when the gateway names one. */
  readonly param: string | null;
}

export interface ClientOptions {
  /** Origin (and optional prefix) of the gateway; "" means the page's own origin. */
  baseUrl?: string;
  /** Gateway key sent as `Authorization: Bearer KEY`. */
  apiKey?: string | null;
  /** A fetch implementation (defaults to the global fetch). */
  fetch?: typeof fetch;
}

export interface RequestOptions {
  signal?: AbortSignal;
}

export type ProviderSource = "api" | "file";

export interface Provider {
  id: string;
  name: string;
  template: string;
  base_url: string;
  has_api_key: boolean;
  api_key_hint: string | null;
  headers: Record<string, string>;
  models: string[];
  aliases: Record<string, string>;
  default_model: string | null;
  enabled: boolean;
  priority: number;
  weight: number;
  timeout_s: number;
  created_at: string;
  updated_at: string;
  source: ProviderSource;
}

/** Fields accepted when creating a provider; `api_key` is write-only. */
export interface ProviderCreate {
  id?: string;
  name: string;
  template: string;
  base_url?: string;
  api_key?: string;
  headers?: Record<string, string>;
  models?: string[];
  aliases?: Record<string, string>;
  default_model?: string | null;
  enabled?: boolean;
  priority?: number;
  weight?: number;
  timeout_s?: number;
}

/** Fields present replace the stored ones; `api_key: null` removes the stored key. */
export interface ProviderUpdate {
  name?: string;
  template?: string;
  base_url?: string;
  api_key?: string | null;
  headers?: Record<string, string>;
  models?: string[];
  aliases?: Record<string, string>;
  default_model?: string | null;
  enabled?: boolean;
  priority?: number;
  weight?: number;
  timeout_s?: number;
}

export interface ProviderFilter {
  enabled?: boolean;
  template?: string;
}

export interface Template {
  id: string;
  /** Some gateways call it `name`; read both. */
  display_name?: string;
  name?: string;
  adapter: string;
  base_url: string;
  key_required: boolean;
  docs_url?: string | null;
  models?: string[];
  [field: string]: unknown;
}

export interface Model {
  id: string;
  object: "model";
  created?: number;
  owned_by?: string;
}

export interface ProviderModels extends ListResponse<Model> {
  cached: boolean;
  fetched_at: string | number | null;
  stale?: boolean;
}

export type HealthStatus = "healthy" | "degraded" | "unhealthy" | "unknown";
export type CircuitState = "closed" | "open" | "half_open";

export interface ProviderHealth {
  provider: string;
  status: HealthStatus;
  latency_ms: number | null;
  checked_at: string | number | null;
  /** Probes that failed in a row. */
  consecutive_failures: number;
  last_error: string | null;
  circuit: CircuitState;
  /** What real calls saw (failures in a row open the circuit). */
  traffic: {
    consecutive_failures: number;
    requests: number;
    failures: number;
    window_s: number;
  };
}

export interface ProviderTestRequest {
  /** With a model, the test is a one-token completion instead of the models list. */
  model?: string;
  /** Unsaved changes to test instead of the stored provider (its key unless api_key is given). */
  changes?: ProviderUpdate;
}

/** A provider that is not saved yet (a form's values), tested as POST would add it. */
export interface ProviderDraftTestRequest {
  provider: ProviderCreate;
  model?: string;
}

export interface ProviderTestResult {
  ok: boolean;
  latency_ms: number | null;
  status_code: number | null;
  error: string | null;
  models_found: number | null;
}

export interface GatewayHealth {
  status: "ok" | "degraded" | "draining" | string;
  version?: string;
  uptime_s?: number;
  providers?: { total: number; healthy: number; unhealthy: number };
}

export type KeyScope = "chat" | "models" | "admin";

export interface KeyCreate {
  name: string;
  scopes?: KeyScope[];
  models?: string[];
  rpm?: number | null;
  tpm?: number | null;
  /** ISO 8601 date-time, or null for a key that never expires. */
  expires_at?: string | null;
  /** USD allowed per budget period (at the configured prices); null: no budget. */
  budget_usd?: number | null;
  /** Tokens (prompt + completion) allowed per budget period; null: no limit. */
  max_tokens?: number | null;
  budget_period?: BudgetPeriod;
}

export type BudgetPeriod = "day" | "month" | "total";

/** PATCH /api/v1/keys/{id}: fields present replace; null removes a limit. */
export interface KeyUpdate {
  name?: string;
  rpm?: number | null;
  tpm?: number | null;
  budget_usd?: number | null;
  max_tokens?: number | null;
  budget_period?: BudgetPeriod | null;
}

/** Use within the current budget period (UTC calendar). */
export interface Spend {
  period: BudgetPeriod;
  period_start: string | null;
  resets_at: string | null;
  /** Priced requests only. */
  cost_usd: number;
  tokens: number;
  requests: number;
}

export type UsageDimension = "day" | "key" | "provider" | "model";

export interface UsageQuery {
  /** YYYY-MM-DD or ISO date-time; default: `to` minus 29 days. */
  from?: string;
  /** Inclusive; default: today (UTC). */
  to?: string;
  key_id?: string;
  provider?: string;
  model?: string;
  /** Default: all four; empty: one row, the totals. */
  group_by?: UsageDimension[];
}

export interface UsageCounts {
  requests: number;
  errors: number;
  prompt_tokens: number;
  completion_tokens: number;
  cached_tokens: number;
  reasoning_tokens: number;
  /** null when no request of the group had a known price. */
  cost_usd: number | null;
  unpriced_requests: number;
}

export interface UsageRow extends UsageCounts {
  day?: string;
  key_id?: string;
  provider?: string | null;
  model?: string | null;
}

export interface UsageReport {
  object: "usage";
  from: string;
  to: string;
  group_by: UsageDimension[];
  data: UsageRow[];
  totals: UsageCounts;
}

export interface UsageLogQuery {
  limit?: number;
  /** An entry's id (next_before of the previous page): only older entries. */
  before?: string;
  key_id?: string;
  /** "ok", "error" or one HTTP status code. */
  status?: string;
}

export interface UsageLogEntry {
  id: string;
  time: string;
  request_id: string;
  key_id: string;
  provider: string | null;
  model: string | null;
  route: string;
  status: number;
  streamed: boolean;
  prompt_tokens: number;
  completion_tokens: number;
  cached_tokens: number;
  reasoning_tokens: number;
  cost_usd: number | null;
  latency_ms: number;
  ttft_ms: number | null;
  attempts: number;
}

export interface UsageLogPage {
  object: "list";
  data: UsageLogEntry[];
  next_before: string | null;
}

export interface MyUsage {
  key_id: string;
  name: string;
  budget_usd: number | null;
  max_tokens: number | null;
  budget_period: BudgetPeriod;
  spend: Spend;
  last_used_at: string | null;
}

export interface KeyInfo {
  id: string;
  name: string;
  /** A recognisable start or end of the key (gateways name it prefix or hint). */
  prefix?: string;
  hint?: string;
  scopes: KeyScope[];
  models?: string[];
  rpm?: number | null;
  tpm?: number | null;
  created_at: string | number;
  expires_at: string | number | null;
  /** Set once revoked: a revoked key stays listed and can no longer be used. */
  revoked_at?: string | null;
  budget_usd?: number | null;
  max_tokens?: number | null;
  budget_period?: BudgetPeriod;
  /** This budget period's use (when the usage ledger is on). */
  spend?: Spend;
  last_used_at?: string | null;
}

/** The answer to a key creation: the only time the secret is shown. */
export interface CreatedKey extends KeyInfo {
  key: string;
}

export type Role = "system" | "user" | "assistant" | "tool" | "developer";

export interface ContentPart {
  type: string;
  text?: string;
  image_url?: { url: string; detail?: string };
  [field: string]: unknown;
}

export interface ChatMessage {
  role: Role;
  content: string | ContentPart[] | null;
  name?: string;
  tool_call_id?: string;
  tool_calls?: ToolCall[];
  [field: string]: unknown;
}

export interface ToolCall {
  id: string;
  type: "function";
  function: { name: string; arguments: string };
}

export interface ChatCompletionRequest {
  model: string;
  messages: ChatMessage[];
  stream?: boolean;
  stream_options?: { include_usage?: boolean };
  temperature?: number;
  top_p?: number;
  max_tokens?: number;
  n?: number;
  stop?: string | string[];
  /** Newer OpenAI parameters pass through untouched. */
  [field: string]: unknown;
}

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  [field: string]: unknown;
}

export interface ChatCompletion {
  id: string;
  object: "chat.completion";
  created: number;
  model: string;
  choices: Array<{
    index: number;
    message: ChatMessage & { reasoning_content?: string };
    finish_reason: string | null;
  }>;
  usage?: Usage;
}

export interface ChunkDelta {
  role?: Role;
  content?: string | null;
  reasoning_content?: string | null;
  tool_calls?: Array<{
    index: number;
    id?: string;
    type?: "function";
    function?: { name?: string; arguments?: string };
  }>;
}

export interface ChatCompletionChunk {
  id: string;
  object: "chat.completion.chunk";
  created: number;
  model: string;
  choices: Array<{ index: number; delta: ChunkDelta; finish_reason: string | null }>;
  usage?: Usage | null;
}

export interface EmbeddingsRequest {
  model: string;
  input: string | string[] | number[] | number[][];
  encoding_format?: "float" | "base64";
  dimensions?: number;
  /** Newer OpenAI parameters pass through untouched. */
  [field: string]: unknown;
}

export interface Embeddings {
  object: "list";
  data: Array<{ object: "embedding"; index: number; embedding: number[] | string }>;
  model: string;
  usage?: { prompt_tokens: number; total_tokens: number };
}

/** A Responses API request (OpenAI's shape; see the OpenAI API reference). */
export interface ResponseRequest {
  model: string;
  input: string | Array<Record<string, unknown>>;
  instructions?: string;
  previous_response_id?: string;
  store?: boolean;
  /** Every other Responses API parameter passes through. */
  [field: string]: unknown;
}

/** A Responses API response object. */
export interface ResponseObject {
  id: string;
  object: "response";
  created_at: number;
  status: "completed" | "failed" | "in_progress" | "cancelled" | "queued" | "incomplete";
  model: string;
  output: Array<Record<string, unknown> & { type: string }>;
  usage?: { input_tokens: number; output_tokens: number; total_tokens: number };
  [field: string]: unknown;
}

/** The input items of a stored response. */
export interface ResponseItemList {
  object: "list";
  data: Array<Record<string, unknown> & { id: string; type: string }>;
  first_id: string | null;
  last_id: string | null;
  has_more: boolean;
}

/** Anthropic's Messages API request (POST /api/v1/messages). */
export interface MessagesRequest {
  model: string;
  max_tokens: number;
  messages: Array<{
    role: "user" | "assistant";
    content: string | Array<{ type: string; [field: string]: unknown }>;
  }>;
  system?: string | Array<{ type: "text"; text: string }>;
  /** Anthropic's other parameters (tools, thinking, stop_sequences, ...). */
  [field: string]: unknown;
}

/** Anthropic's Message: content blocks (text, thinking, tool_use, ...). */
export interface Message {
  id: string;
  type: "message";
  role: "assistant";
  model: string;
  content: Array<{ type: string; [field: string]: unknown }>;
  stop_reason: string | null;
  stop_sequence: string | null;
  usage: {
    input_tokens: number;
    output_tokens: number;
    cache_read_input_tokens?: number;
    cache_creation_input_tokens?: number;
  };
}

export interface MessageTokenCount {
  input_tokens: number;
}

/** A non-streamed answer with the response metadata the console shows. */
export interface ChatResult {
  completion: ChatCompletion;
  /** X-Gateway-Provider: the provider that served. */
  provider: string | null;
  requestId: string | null;
}

/** A started stream: iterate it for chunks; `provider` is known once it is returned. */
export interface ChatStream extends AsyncIterable<ChatCompletionChunk> {
  readonly provider: string | null;
  readonly requestId: string | null;
}

export declare class GatewayClient {
  constructor(options?: ClientOptions);
  readonly baseUrl: string;
  /** Replace (or clear, with null) the key used for later requests. */
  setApiKey(apiKey: string | null): void;
  hasApiKey(): boolean;

  health(options?: RequestOptions): Promise<GatewayHealth>;

  listProviders(filter?: ProviderFilter, options?: RequestOptions): Promise<ListResponse<Provider>>;
  getProvider(id: string, options?: RequestOptions): Promise<Provider>;
  createProvider(body: ProviderCreate, options?: RequestOptions): Promise<Provider>;
  updateProvider(id: string, body: ProviderUpdate, options?: RequestOptions): Promise<Provider>;
  deleteProvider(id: string, options?: RequestOptions): Promise<void>;

  listTemplates(options?: RequestOptions): Promise<ListResponse<Template>>;
  getTemplate(id: string, options?: RequestOptions): Promise<Template>;

  listProviderModels(id: string, options?: RequestOptions): Promise<ProviderModels>;
  refreshProviderModels(id: string, options?: RequestOptions): Promise<ProviderModels>;
  providerHealth(id: string, options?: RequestOptions): Promise<ProviderHealth>;
  testProvider(
    id: string,
    body?: ProviderTestRequest,
    options?: RequestOptions,
  ): Promise<ProviderTestResult>;
  /** Test a provider before it is saved; nothing is stored. */
  testProviderDraft(
    body: ProviderDraftTestRequest,
    options?: RequestOptions,
  ): Promise<ProviderTestResult>;

  listModels(options?: RequestOptions): Promise<ListResponse<Model>>;
  getModel(id: string, options?: RequestOptions): Promise<Model>;

  listKeys(options?: RequestOptions): Promise<ListResponse<KeyInfo>>;
  getKey(id: string, options?: RequestOptions): Promise<KeyInfo>;
  createKey(body: KeyCreate, options?: RequestOptions): Promise<CreatedKey>;
  revokeKey(id: string, options?: RequestOptions): Promise<void>;
  updateKey(id: string, body: KeyUpdate, options?: RequestOptions): Promise<KeyInfo>;

  getUsage(query?: UsageQuery, options?: RequestOptions): Promise<UsageReport>;
  listUsageLogs(query?: UsageLogQuery, options?: RequestOptions): Promise<UsageLogPage>;
  getMyUsage(options?: RequestOptions): Promise<MyUsage>;

  chatCompletion(body: ChatCompletionRequest, options?: RequestOptions): Promise<ChatResult>;
  createEmbeddings(body: EmbeddingsRequest, options?: RequestOptions): Promise<Embeddings>;
  createResponse(body: ResponseRequest, options?: RequestOptions): Promise<ResponseObject>;
  getResponse(id: string, options?: RequestOptions): Promise<ResponseObject>;
  deleteResponse(id: string, options?: RequestOptions): Promise<void>;
  listResponseInputItems(id: string, options?: RequestOptions): Promise<ResponseItemList>;
  createMessage(body: MessagesRequest, options?: RequestOptions): Promise<Message>;
  countMessageTokens(
    body: Omit<MessagesRequest, "max_tokens">,
    options?: RequestOptions,
  ): Promise<MessageTokenCount>;
  /**
   * Start a streamed completion. Resolves once the response headers arrived
   * (rejects with GatewayError before that); aborting `signal` ends the stream.
   */
  streamChat(body: ChatCompletionRequest, options?: RequestOptions): Promise<ChatStream>;
}

/** Split an SSE byte stream into the `data:` payloads of its events. */
export declare function sseData(
  body: ReadableStream<Uint8Array>,
  signal?: AbortSignal,
): AsyncGenerator<string, void, undefined>;
