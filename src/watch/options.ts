// A module's probe options, built once and shared by every target that uses it: the trust store is
// parsed, the client certificate opened and the secrets read from the environment once per module,
// not once per probe.
import { clearTextWarnings, type ProbeFiles, probeOptions, type ProbeFlags } from '../cli/probe.js';
import type { ProbeOptions } from '../probe/run.js';
import { printable } from '../report/printable.js';
import type { InventoryTarget, Module } from './inventory.js';

/** The default per-step bound of a module without `timeout`, as `linkdoctor probe`'s --timeout. */
export const DEFAULT_TIMEOUT_S = 5;

/** The `linkdoctor probe` flags a module stands for. */
export function moduleFlags(m: Module): ProbeFlags {
  return {
    timeout: (m.timeout ?? DEFAULT_TIMEOUT_S * 1000) / 1000,
    ...(m.max_redirects !== undefined ? { maxRedirs: m.max_redirects } : {}),
    ...(m.direction ? { direction: m.direction } : {}),
    ...(m.trust ? { trust: m.trust } : {}),
    ...(m.trust_password_env ? { trustPasswordEnv: m.trust_password_env } : {}),
    ...(m.client_cert ? { clientCert: m.client_cert } : {}),
    ...(m.client_key ? { clientKey: m.client_key } : {}),
    ...(m.client_cert_password_env ? { clientCertPasswordEnv: m.client_cert_password_env } : {}),
    ...(m.servername ? { servername: m.servername } : {}),
    ...(m.method ? { method: m.method } : {}),
    ...(m.headers ? { header: Object.entries(m.headers).map(([k, v]) => `${k}: ${v}`) } : {}),
    ...(m.body !== undefined ? { data: m.body } : {}),
    ...(m.user ? { user: m.user } : {}),
    ...(m.password_env ? { passwordEnv: m.password_env } : {}),
    ...(m.oauth_token_url ? { oauthTokenUrl: m.oauth_token_url } : {}),
    ...(m.oauth_client_id ? { oauthClientId: m.oauth_client_id } : {}),
    ...(m.oauth_secret_env ? { oauthSecretEnv: m.oauth_secret_env } : {}),
    ...(m.csrf ? { csrf: true } : {}),
    ...(m.known_hosts ? { knownHosts: m.known_hosts } : {}),
    ...(m.identity ? { identity: m.identity } : {}),
    ...(m.identity_passphrase_env ? { identityPassphraseEnv: m.identity_passphrase_env } : {}),
    ...(m.from ? { from: m.from } : {}),
    ...(m.to ? { to: m.to } : {}),
  };
}

/**
 * Probe options per module, each built on first use and kept: `optionsFor(module, url)` is the
 * module's options with that target. `files`: the files of each module as the inventory read them
 * when it was loaded (Inventory.files), used as they are, not read again; a module not in it reads
 * its own. Errors of a module (an environment variable not set) are UserErrors, thrown on every use
 * of that module.
 */
export class ModuleOptions {
  private readonly built = new Map<string, Promise<ProbeOptions>>();

  constructor(private readonly files: ReadonlyMap<string, ProbeFiles> = new Map()) {}

  async optionsFor(m: Module, target: string): Promise<ProbeOptions> {
    let p = this.built.get(m.name);
    if (!p) {
      p = probeOptions('https://module.invalid/', moduleFlags(m), this.files.get(m.name));
      this.built.set(m.name, p);
    }
    return { ...(await p), target };
  }
}

/**
 * The targets whose module sends a secret in clear text (Basic credentials or an OAuth token to an
 * http:// URL, the OAuth client secret to an http:// token URL, a password to ftp://, a credential
 * header over http://): `linkdoctor probe`'s own rule (clearTextWarnings), one line each,
 * "NAME: the password of cpi goes to http://host:port in clear text ...". A module that cannot be
 * built (a variable not set) is skipped: its targets' own error says so when they are checked.
 */
export async function clearTextTargetWarnings(
  targets: readonly InventoryTarget[],
  options: ModuleOptions,
): Promise<string[]> {
  const out: string[] = [];
  for (const t of targets) {
    let opts: ProbeOptions;
    try {
      opts = await options.optionsFor(t.module, t.requestUrl);
    } catch {
      continue;
    }
    for (const w of clearTextWarnings(opts)) out.push(`${printable(t.name)}: ${w}`);
  }
  return out;
}
