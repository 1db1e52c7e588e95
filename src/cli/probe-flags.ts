// The flags of `linkdoctor probe`, in one place: the CLI and the demo (which probes the lab's
// scenarios with their own flags) parse them the same way.
import { type Command, Option } from 'commander';

const collect = (v: string, prev: string[] = []) => [...prev, v];

export function withProbeFlags(cmd: Command): Command {
  return cmd
    .argument('<url>', 'e.g. https://host:443/path')
    .addOption(
      new Option(
        '--direction <direction>',
        'outbound: the tenant calls a receiver (default); inbound: a sender calls the tenant',
      ).choices(['inbound', 'outbound']),
    )
    .option('--timeout <seconds>', 'bound of each step', (v) => Number(v), 5)
    .option('--trust <file>', 'trust store: PEM bundle, PKCS#12, JKS or JCEKS (default: a Java-like one)')
    .option('--trust-password-env <var>', 'environment variable holding the trust store password')
    .option('--client-cert <file>', 'client certificate to present: PKCS#12, or PEM (cert and key)')
    .option('--client-key <file>', 'PEM private key, when not in --client-cert')
    .option('--client-cert-password-env <var>', 'environment variable holding the PKCS#12 or key password')
    .option('--servername <name>', 'TLS server name (SNI), when it differs from the URL host')
    .option('-X, --method <method>', 'HTTP method (default GET, or POST with -d)')
    .option('-H, --header <header>', 'extra header "Name: value" (repeatable)', collect)
    .option('-d, --data <data>', 'request body')
    .option('-u, --user <user>', 'user for Basic authentication (password from --password-env or a prompt)')
    .option('--password-env <var>', 'environment variable holding the password')
    .option('--oauth-token-url <url>', 'OAuth2 client credentials: the token URL')
    .option('--oauth-client-id <id>', 'OAuth2 client id')
    .option('--oauth-secret-env <var>', 'environment variable holding the OAuth2 client secret')
    .option('--csrf', 'fetch a CSRF token (X-CSRF-Token: Fetch) and send it with the session cookies')
    .option('--max-redirs <n>', 'redirects to follow at most', (v) => Number(v), 5)
    .option('--known-hosts <file>', 'SFTP/SSH: OpenSSH known_hosts file to hold the host key against')
    .option('--identity <file>', 'SFTP/SSH: private key to log in with')
    .option('--identity-passphrase-env <var>', 'SFTP/SSH: environment variable holding the key passphrase')
    .option('--write-test', 'SFTP/FTP: also create and remove a temporary file in the path')
    .option('--from <address>', 'SMTP: MAIL FROM address to test')
    .option('--to <address>', 'SMTP: RCPT TO address to test')
    .option('--json', 'print one JSON object instead of the checklist')
    .option('--full', "print every cause, fix and reference of the diagnosis, not only the named cause's");
}
