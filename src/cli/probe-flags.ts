// The flags of `linkdoctor probe`, in one place: the CLI and the demo (which probes the lab's
// scenarios with their own flags) parse them the same way.
import { type Command, Option } from 'commander';
import { UserError } from '../errors.js';
import { parseDuration } from '../watch/duration.js';

const collect = (v: string, prev: string[] = []) => [...prev, v];

/** The bounds of a numeric option; `whole`: an integer. */
export interface NumberRange {
  min: number;
  max: number;
  whole?: boolean;
  /** What the number is, for the sentence: "a number of seconds", "a port". */
  what: string;
  /** The whole sentence, when the range is better said otherwise. */
  sentence?: string;
}

/**
 * A commander parser for a numeric option: the number, or a usage error (exit 2) that names the
 * range. Node's timers overflow above 2^31 ms (24.8 days) and fire at once, and Number('abc') is
 * NaN, so nothing unchecked may reach a timer or a loop bound.
 */
export function numberOption(flag: string, r: NumberRange): (raw: string) => number {
  return (raw) => {
    const v = raw.trim() === '' ? NaN : Number(raw);
    if (!Number.isFinite(v) || v < r.min || v > r.max || (r.whole && !Number.isInteger(v))) {
      // The value as typed, short and printable (it may hold anything).
      const shown = raw.slice(0, 20).replace(/[^\x20-\x7e]/g, '?') + (raw.length > 20 ? '...' : '');
      throw new UserError(r.sentence ?? `${flag} takes ${r.what} from ${r.min} to ${r.max}, not "${shown}"`);
    }
    return v;
  };
}

/** Seconds of a network bound: at most an hour (far below the timer's limit). */
export const MAX_TIMEOUT_S = 3600;
/**
 * A commander parser for a network bound in seconds: a number of seconds, or a duration as an
 * inventory writes it (`5s`, `500ms`, `1m`; parseDuration, the inventory's own parser), from 0.1 s
 * to MAX_TIMEOUT_S; else a usage error (exit 2) that names the range and the forms.
 */
export const secondsOption =
  (flag = '--timeout') =>
  (raw: string): number => {
    const ms = parseDuration(raw);
    const s = ms === undefined ? NaN : ms / 1000;
    if (!(s >= 0.1 && s <= MAX_TIMEOUT_S)) {
      const shown = raw.slice(0, 20).replace(/[^\x20-\x7e]/g, '?') + (raw.length > 20 ? '...' : '');
      throw new UserError(
        `${flag} takes a duration (5s, 500ms, 1m) or a number of seconds from 0.1 to ${MAX_TIMEOUT_S}, not "${shown}"`,
      );
    }
    return s;
  };
/**
 * The one default bound of every command that connects (probe, known-hosts, trust add-from-site):
 * 10 s, the connect timeout the platform's SFTP adapter has by default (Timeout (in ms): 10000).
 */
export const DEFAULT_TIMEOUT_S = 10;

/**
 * `--timeout SECONDS` (default DEFAULT_TIMEOUT_S), and curl's `--connect-timeout` as a hidden alias
 * of it: the bound of each step (and of each request).
 */
export function withTimeout(cmd: Command, what = 'bound of each step and of each request'): Command {
  const parse = secondsOption('--connect-timeout');
  return cmd
    .option('--timeout <seconds>', what, secondsOption(), DEFAULT_TIMEOUT_S)
    .addOption(new Option('--connect-timeout <seconds>', "curl's name for --timeout").hideHelp())
    .on('option:connect-timeout', (raw: string) =>
      cmd.setOptionValueWithSource('timeout', parse(raw), 'cli'),
    );
}

/** curl's -k: refused, with what linkdoctor does instead. */
export const INSECURE_SENTENCE =
  'there is no -k/--insecure: linkdoctor does not skip the certificate check, it judges the chain as the platform will and says what is wrong with it (with --trust FILE, against the trust store the platform uses)';

/** curl's `-k/--insecure`, accepted by the parser only to be refused in one sentence (exit 2). */
export function refuseInsecure(cmd: Command): Command {
  return cmd
    .addOption(new Option('-k, --insecure', 'refused: the chain is judged instead').hideHelp())
    .on('option:insecure', () => {
      throw new UserError(INSECURE_SENTENCE);
    });
}

/** RFC 9110 §5.1: a field name is a token. */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** RFC 9110 §5.5: a field value is one line of visible characters, spaces, tabs and obs-text (Latin-1). */
const NOT_FIELD_VALUE = /[^\t\x20-\x7e\x80-\xff]/;

/** A header as the user typed it, short and printable, for a sentence. */
const shownHeader = (raw: string) =>
  JSON.stringify(raw.length > 60 ? `${raw.slice(0, 60)}...` : raw).replace(/[^\x20-\x7e]/g, '?');

/**
 * What is wrong with an extra header "Name: value" (`probe -H`, the API's `header` field), in one
 * sentence that names it; undefined when it can be sent. The name must be a token (no spaces, no
 * colon), the value one line: a CR or LF in it would end the header and start one the user did not
 * mean (header injection), so it is refused rather than sent or cut.
 */
export function headerProblem(raw: string): string | undefined {
  const i = raw.indexOf(':');
  const name = i > 0 ? raw.slice(0, i).trim() : '';
  if (!name) return `${shownHeader(raw)} is not a header (Name: value)`;
  if (!TOKEN.test(name))
    return `the header name ${shownHeader(name)} holds ${/\s/.test(name) ? 'a space' : 'a character a name cannot have'}: a name is letters, digits and !#$%&'*+-.^_\`|~ (Name: value)`;
  const bad = NOT_FIELD_VALUE.exec(raw.slice(i + 1).trim());
  if (bad) {
    const ch = bad[0]!;
    const what =
      ch === '\r' || ch === '\n'
        ? 'a line break: a header is one line, and what follows would go as a header of its own'
        : `the character U+${ch.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}, which no header value may hold`;
    return `the value of header ${name} holds ${what}`;
  }
  return undefined;
}

/** curl's own default limit of redirects. */
export const MAX_REDIRS = 50;
export const redirectsOption = numberOption('--max-redirs', {
  min: 0,
  max: MAX_REDIRS,
  whole: true,
  what: 'a whole number of redirects',
});
/** Days only feed a comparison, no timer: any finite number from 0 (the sentence as it always was). */
export const daysOption = numberOption('--days', {
  min: 0,
  max: Number.MAX_VALUE,
  what: 'a number of days',
  sentence: '--days takes a number of days, 0 or more',
});
export const portOption = numberOption('--port', { min: 1, max: 65535, whole: true, what: 'a port' });

export function withProbeFlags(cmd: Command): Command {
  withTimeout(
    refuseInsecure(cmd.argument('<url>', 'https://host[:port]/path, sftp://[user@]host/dir, ... (below)')),
  );
  return cmd
    .addOption(
      new Option(
        '--direction <direction>',
        'outbound: the tenant calls a receiver (default); inbound: a sender calls the tenant',
      ).choices(['inbound', 'outbound']),
    )
    .option('--trust <file>', 'trust store: PEM bundle, PKCS#12, JKS or JCEKS (default: a Java-like one)')
    .option('--trust-password-env <var>', 'environment variable holding the trust store password')
    .option('--client-cert <file>', 'client certificate to present: PKCS#12, or PEM (cert and key)')
    .option('--client-key <file>', 'PEM private key, when not in --client-cert')
    .option('--client-cert-password-env <var>', 'environment variable holding the PKCS#12 or key password')
    .option('--servername <name>', 'TLS server name (SNI), when it differs from the URL host')
    .option('-X, --method <method>', 'HTTP method (default GET, or POST with -d)')
    .option('-H, --header <header>', 'extra header "Name: value" (repeatable)', collect)
    .option('-d, --data <data>', 'request body')
    .option(
      '-u, --user <user>',
      'user to log in as (HTTP Basic, SFTP, SMTP, FTP; or user@ in the URL); the password from --password-env or a prompt',
    )
    .option('--password-env <var>', 'environment variable holding the password')
    .option('--oauth-token-url <url>', 'OAuth2 client credentials: the token URL')
    .option('--oauth-client-id <id>', 'OAuth2 client id')
    .option('--oauth-secret-env <var>', 'environment variable holding the OAuth2 client secret')
    .option('--csrf', 'fetch a CSRF token (X-CSRF-Token: Fetch) and send it with the session cookies')
    .option(
      '--max-redirs <n>',
      `redirects to follow at most (0 to ${MAX_REDIRS}; default: none outbound, as the HTTP receiver, 5 inbound)`,
      redirectsOption,
    )
    .option(
      '--location-trusted',
      'send the credentials and the OAuth token on to another scheme, host or port a redirect leads to',
    )
    .option(
      '--known-hosts <file>',
      'SFTP/SSH: OpenSSH known_hosts file to hold the host key against (default: ~/.ssh/known_hosts)',
    )
    .option('--identity <file>', 'SFTP/SSH: private key to log in with')
    .option('--identity-passphrase-env <var>', 'SFTP/SSH: environment variable holding the key passphrase')
    .option('--write-test', 'SFTP/FTP: also create and remove a temporary file in the path')
    .option('--from <address>', 'SMTP: MAIL FROM address to test')
    .option('--to <address>', 'SMTP: RCPT TO address to test')
    .option('--tenant', "judge the chain against the tenant's own keystore, read with the service key")
    .option('--service-key <file>', 'with --tenant: the service key (else $LINKDOCTOR_SERVICE_KEY)')
    .option(
      '-v, --verbose',
      'print every exchange in full: each HTTP response header, every TLS verdict, the SMTP and FTP commands and replies (credentials masked)',
    )
    .option('--json', 'print one JSON object instead of the checklist')
    .option('--full', "print every cause, fix and reference of the diagnosis, not only the named cause's");
}
