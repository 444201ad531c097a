/** What the CLI exits with, so that scripts can tell failures apart. */
export const exitCodes = {
  ok: 0,
  /** The admin API refused the request (4xx other than 401/403/404) or failed (5xx). */
  failed: 1,
  /** Bad arguments or options. */
  usage: 2,
  /** The admin API could not be reached. */
  unreachable: 3,
  /** The token is missing or wrong (401, 403). */
  unauthorized: 4,
  /** No such saga or dead letter (404). */
  notFound: 5,
} as const;

/** A failure of a CLI command, with the exit code it ends the process with. */
export class CliError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode: number) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}

/** The value of an address option, checked to be an http(s) URL, without a trailing '/'. */
export function httpUrl(option: string, value: string): string {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new CliError(`${option} must be an http(s) URL (got '${value}')`, exitCodes.usage);
  }
  return value.replace(/\/+$/, '');
}

/** Options of {@link AdminClient}. */
export interface AdminClientOptions {
  /** e.g. `http://127.0.0.1:8080`. */
  readonly url: string;
  /** Bearer token of the admin API. @default none */
  readonly token?: string;
  /** Sent as `X-Operator`, recorded in the audit log. @default none (the API says `operator`) */
  readonly operator?: string;
  /** Per request. @default 10000 */
  readonly timeoutMs?: number;
}

/** A small client of the admin API: JSON in and out, errors as {@link CliError}. */
export class AdminClient {
  readonly #options: AdminClientOptions;

  constructor(options: AdminClientOptions) {
    this.#options = { ...options, url: httpUrl('--url', options.url) };
  }

  get<T>(path: string, query: Readonly<Record<string, string | undefined>> = {}): Promise<T> {
    const params = new URLSearchParams(
      Object.entries(query).filter((e): e is [string, string] => e[1] !== undefined),
    ).toString();
    return this.#send<T>('GET', params === '' ? path : `${path}?${params}`);
  }

  post<T>(path: string, body: unknown): Promise<T> {
    return this.#send<T>('POST', path, body);
  }

  async #send<T>(method: string, path: string, body?: unknown): Promise<T> {
    const { url, token, operator, timeoutMs } = this.#options;
    let response: Response;
    try {
      response = await fetch(`${url}${path}`, {
        method,
        headers: {
          accept: 'application/json',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...(token === undefined || token === '' ? {} : { authorization: `Bearer ${token}` }),
          ...(operator === undefined ? {} : { 'x-operator': operator }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(timeoutMs ?? 10_000),
      });
    } catch (error) {
      const reason =
        error instanceof Error
          ? ((error.cause as Error | undefined)?.message ?? error.message)
          : String(error);
      throw new CliError(`cannot reach the admin API at ${url}: ${reason}`, exitCodes.unreachable);
    }
    const text = await response.text();
    let json: unknown;
    try {
      json = text === '' ? undefined : JSON.parse(text);
    } catch {
      throw new CliError(
        `the admin API at ${url} answered ${response.status} with something that is not JSON`,
        exitCodes.failed,
      );
    }
    if (response.ok) return json as T;
    const error = (
      json as { error?: { code?: string; message?: string; field?: string } } | undefined
    )?.error;
    const message = `${error?.message ?? `HTTP ${response.status}`}${error?.code === undefined ? '' : ` (${error.code})`}`;
    if (response.status === 401 || response.status === 403) {
      throw new CliError(
        `${message}: give the admin token with --token or ADMIN_TOKEN`,
        exitCodes.unauthorized,
      );
    }
    if (response.status === 404) throw new CliError(message, exitCodes.notFound);
    throw new CliError(message, exitCodes.failed);
  }
}
