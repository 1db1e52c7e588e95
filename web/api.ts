// The UI's only way to the server: /api, with the bearer token when the server needs one (asked once,
// kept in this tab's session storage). Errors are the API's problem bodies, turned into sentences.
const KEY = 'linkdoctor.token';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

let askToken: (() => Promise<string | undefined>) | undefined;
/** Called when the server answers 401: shows the token dialog; resolves with the token or nothing. */
export function onTokenNeeded(f: () => Promise<string | undefined>): void {
  askToken = f;
}

function headers(extra: Record<string, string> = {}): Record<string, string> {
  const token = sessionStorage.getItem(KEY);
  return { ...extra, ...(token ? { authorization: `Bearer ${token}` } : {}) };
}

async function problemOf(r: Response): Promise<ApiError> {
  try {
    const p = (await r.json()) as { detail?: string; title?: string };
    return new ApiError(r.status, p.detail ?? p.title ?? `HTTP ${r.status}`);
  } catch {
    return new ApiError(r.status, `the server answered HTTP ${r.status}`);
  }
}

/** A request to the API; asks for the token and retries once on 401. */
export async function call(path: string, init: RequestInit = {}, retried = false): Promise<Response> {
  let r: Response;
  try {
    r = await fetch(path, { ...init, headers: headers((init.headers as Record<string, string>) ?? {}) });
  } catch {
    throw new ApiError(0, 'the linkdoctor server cannot be reached: is `linkdoctor serve` still running?');
  }
  if (r.status === 401 && !retried && askToken) {
    const token = await askToken();
    if (token) {
      sessionStorage.setItem(KEY, token);
      return call(path, init, true);
    }
  }
  if (!r.ok) throw await problemOf(r);
  return r;
}

export const getJson = async <T>(path: string): Promise<T> => (await call(path)).json() as Promise<T>;

export const postJson = async <T>(path: string, body: unknown): Promise<T> =>
  (
    await call(path, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })
  ).json() as Promise<T>;

/** POSTs and reads an NDJSON answer line by line as it arrives. */
export async function stream(
  path: string,
  init: RequestInit,
  onLine: (line: Record<string, unknown>) => void,
): Promise<void> {
  const r = await call(path, {
    method: 'POST',
    ...init,
    headers: { accept: 'application/x-ndjson', ...(init.headers as Record<string, string>) },
  });
  const reader = r.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (value) buf += value;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      if (line) onLine(JSON.parse(line) as Record<string, unknown>);
    }
    if (done) break;
  }
}
