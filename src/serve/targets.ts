// What the API may probe. A server that connects wherever a request says is an SSRF tool once others
// can reach it: `--allow-targets` (host names, *.suffix, IP addresses, CIDRs) limits it, and an
// exposed server refuses loopback, link-local and unspecified addresses (a cloud's metadata service
// at 169.254.169.254, the machine's own services) unless an entry of --allow-targets names them.
import { BlockList, isIP } from 'node:net';
import { UserError } from '../errors.js';
import { systemResolve, type Resolve } from '../probe/net.js';

/** Addresses an exposed server does not probe unless allowed: RFC 6890's loopback, link-local and "this host". */
const INTERNAL = new BlockList();
INTERNAL.addSubnet('127.0.0.0', 8, 'ipv4');
INTERNAL.addSubnet('169.254.0.0', 16, 'ipv4');
INTERNAL.addSubnet('0.0.0.0', 8, 'ipv4');
INTERNAL.addAddress('::1', 'ipv6');
INTERNAL.addAddress('::', 'ipv6');
INTERNAL.addSubnet('fe80::', 10, 'ipv6');
INTERNAL.addSubnet('::ffff:127.0.0.0', 104, 'ipv6');
INTERNAL.addSubnet('::ffff:169.254.0.0', 112, 'ipv6');

const family = (ip: string) => (isIP(ip) === 6 ? 'ipv6' : 'ipv4');

/** A parsed --allow-targets list. */
export interface TargetRules {
  /** Names allowed as typed (lower case), and `.suffix` for `*.suffix` entries. */
  names: string[];
  suffixes: string[];
  /** Addresses and CIDRs. */
  nets: BlockList;
  /** Whether any entry was given at all. */
  limited: boolean;
  /** Exposed server: internal addresses need an entry that names them. */
  exposed: boolean;
}

/**
 * Parses `--allow-targets` entries: `host.example.com`, `*.example.com`, `10.0.0.5`, `10.0.0.0/8`,
 * `fd00::/8`. Throws UserError naming the entry that is none of them.
 */
export function targetRules(entries: string[], exposed: boolean): TargetRules {
  const rules: TargetRules = {
    names: [],
    suffixes: [],
    nets: new BlockList(),
    limited: entries.length > 0,
    exposed,
  };
  for (const raw of entries) {
    const e = raw
      .trim()
      .toLowerCase()
      .replace(/^\[|\]$/g, '');
    const cidr = /^(.+)\/(\d{1,3})$/.exec(e);
    if (cidr && isIP(cidr[1]!)) {
      const bits = Number(cidr[2]);
      if (bits > (isIP(cidr[1]!) === 6 ? 128 : 32))
        throw new UserError(`--allow-targets: "${raw}" has a bad prefix length`);
      rules.nets.addSubnet(cidr[1]!, bits, family(cidr[1]!));
    } else if (isIP(e)) rules.nets.addAddress(e, family(e));
    else if (/^\*\.[a-z0-9.-]+$/.test(e)) rules.suffixes.push(e.slice(1));
    else if (/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/.test(e)) rules.names.push(e);
    else
      throw new UserError(
        `--allow-targets: "${raw}" is not a host name, *.domain, IP address or CIDR (e.g. 10.0.0.0/8)`,
      );
  }
  return rules;
}

/** The error a refused target answers with (403): the sentence says which rule refused it. */
export class TargetRefused extends Error {
  override name = 'TargetRefused';
}

/**
 * The names one request resolved, each once: the target check resolves through `resolve`, and the
 * probe through `pinned`, which answers with the very same addresses (or the same error). So a name
 * whose answer changes between the check and the connection (DNS rebinding: a public address first,
 * 127.0.0.1 the second time) cannot lead the probe anywhere the check did not see.
 */
export class CheckedNames {
  private readonly answers = new Map<string, Promise<string[]>>();
  constructor(private readonly system: Resolve = systemResolve) {}

  /** Resolves `host` the first time it is asked, and answers the same after. */
  readonly resolve: Resolve = (host) => {
    const h = host.toLowerCase();
    let answer = this.answers.get(h);
    if (!answer) {
      answer = this.system(h);
      // The error is the probe's to report (its dns step); no unhandled rejection meanwhile.
      answer.catch(() => undefined);
      this.answers.set(h, answer);
    }
    return answer;
  };

  /**
   * The answers so far as plain data, for a probe that runs in another thread (the exporter's probe
   * workers): pinnedFrom() of it answers as `pinned` does.
   */
  async answered(): Promise<PinnedAnswers> {
    const out: PinnedAnswers = {};
    for (const [host, answer] of this.answers)
      out[host] = await answer.then(
        (addresses) => ({ addresses }),
        (e: NodeJS.ErrnoException) => ({ error: e.message, ...(e.code ? { code: e.code } : {}) }),
      );
    return out;
  }

  /** The probe's resolver: the answers the check got; a name that was not checked is not resolved. */
  readonly pinned: Resolve = (host) =>
    this.answers.get(host.toLowerCase()) ??
    Promise.reject(
      Object.assign(new Error(`${host} was not checked by this server, so it is not connected to`), {
        code: 'ENOTCHECKED',
      }),
    );
}

/** What CheckedNames resolved, by lower-case name: the addresses, or the error (its message and code). */
export type PinnedAnswers = Record<string, { addresses?: string[]; error?: string; code?: string }>;

/** CheckedNames.pinned from its answers as data (CheckedNames.answered), in another thread. */
export function pinnedFrom(answers: PinnedAnswers): Resolve {
  return async (host) => {
    const a = answers[host.toLowerCase()];
    if (a?.addresses) return a.addresses;
    throw Object.assign(
      new Error(a?.error ?? `${host} was not checked by this server, so it is not connected to`),
      { code: a ? a.code : 'ENOTCHECKED' },
    );
  };
}

/**
 * Checks a host the API is asked to connect to (the probe's target, an OAuth token URL): by name
 * first, then every address it resolves to (through `resolve`: pass CheckedNames.resolve, and give
 * the probe CheckedNames.pinned, so that it connects to the addresses checked here and no others).
 * Resolves when allowed; rejects with TargetRefused.
 */
export async function checkTarget(
  host: string,
  rules: TargetRules,
  what = 'the target',
  resolve: Resolve = systemResolve,
): Promise<void> {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  const byName = !isIP(h) && (rules.names.includes(h) || rules.suffixes.some((s) => h.endsWith(s)));
  const addresses = isIP(h)
    ? [h]
    : await resolve(h).catch(
        // A name that does not resolve is the probe's own finding (its dns step), not a refusal.
        () => [] as string[],
      );
  const allowedIp = (ip: string) => rules.nets.check(ip, family(ip));
  if (rules.limited && !byName && !(addresses.length && addresses.every(allowedIp)))
    throw new TargetRefused(`${what} ${host} is not in this server's --allow-targets`);
  if (rules.exposed)
    for (const ip of addresses)
      if (INTERNAL.check(ip, family(ip)) && !allowedIp(ip))
        throw new TargetRefused(
          `${what} ${host} is ${ip === h ? '' : `${ip}, `}a loopback or link-local address, which an exposed server ` +
            `does not probe unless --allow-targets names it`,
        );
}
