#!/usr/bin/env node
// linkdoctor's command line: thin commands that parse flags and call the library.
// Exit codes: 0 all good / diagnosed, 1 a problem found or nothing matched, 2 usage or input error.
import { Command, CommanderError, Option } from 'commander';
import { UserError } from '../errors.js';
import { usageSentence } from './usage-error.js';
import { printable } from '../report/printable.js';
import {
  daysOption,
  numberOption,
  portOption,
  secondsOption,
  withProbeFlags,
  withTimeout,
} from './probe-flags.js';
import { sizeOption, targetsOption } from './serve-flags.js';

const collect = (v: string, prev: string[] = []) => [...prev, v];
const kbOption = () =>
  new Option('--kb <dir>', 'also load the knowledge-base entries of this folder (repeatable)').argParser(
    collect,
  );

/** Every scheme the probe tests, with an example each (top-level and probe --help). */
const PROBE_EXAMPLES = `
Schemes, with an example each:
  https   linkdoctor probe https://api.example.com/orders --trust store.p12 --trust-password-env PW
  http    linkdoctor probe http://erp.example.com:8000/sap/bc/ping
  sftp    linkdoctor probe sftp://user@sftp.example.com/~/outbox --identity KEY  (or a password)
  ssh     linkdoctor probe ssh://sftp.example.com:2222 --known-hosts known_hosts
  smtp    linkdoctor probe smtp://mail.example.com:587 -u user --password-env PW   (STARTTLS)
  smtps   linkdoctor probe smtps://mail.example.com   (TLS from the start, port 465)
  ftp     linkdoctor probe ftp://user@ftp.example.com/in --password-env PW   (AUTH TLS when offered)
  ftps    linkdoctor probe ftps://ftp.example.com/in -u user --password-env PW  (implicit TLS, 990)
sftp://host/dir opens /dir; sftp://host/~/dir is dir in the login's home directory (as the SFTP
adapter reads a Directory without a leading slash). Passwords come from --password-env VAR or a
prompt, never the command line; -k/--insecure does not exist: the chain is judged, never skipped.
known_hosts: --known-hosts FILE, else ~/.ssh/known_hosts.`;

const program = new Command('linkdoctor')
  .description(
    'Find out why a connection between SAP Cloud Integration and a sender or receiver fails, and how to fix it.',
  )
  .version('0.1.0')
  .exitOverride()
  // Commander's help quotes the arguments, which a script may have taken from anywhere. Its usage
  // errors are said below as one sentence (usageSentence), not in commander's two lines.
  .configureOutput({ writeErr: (s) => process.stderr.write(printable(s)), outputError: () => {} })
  .addHelpText(
    'after',
    `\nExamples:
  linkdoctor diagnose "javax.net.ssl.SSLHandshakeException: PKIX path building failed"
  pbpaste | linkdoctor diagnose -
  linkdoctor scan app.log mpl-export.json.gz
  linkdoctor trust add-from-site api.example.com --to truststore.p12 --password-env PW
  linkdoctor known-hosts add sftp.example.com --known-hosts known_hosts
  linkdoctor lab   (local servers that reproduce the known failures; demo probes them all)
${PROBE_EXAMPLES}

Exit codes: 0 all good or diagnosed, 1 a problem found or nothing matched, 2 usage or input error.`,
  );

/**
 * Each command's definition by name, in the order help lists them. Only the command being run is
 * defined (all of them for help, a version or a mistyped name): defining every option of every
 * command cost ~17 M instructions of each cold start (callgrind, session 11), 2.5% of a `diagnose`.
 */
const COMMANDS: Record<string, () => void> = {
  diagnose: () => {
    program
      .command('diagnose')
      .description('say which known issue an error text is, on what evidence, and what to do')
      .argument('[text...]', 'the error text (else --file, else standard input; - is standard input)')
      .option('-f, --file <file>', 'read the error text from a file (- for standard input)')
      .option('--json', 'print one JSON object instead of the report')
      .option('--full', "print every cause, fix, check and reference, not only the named cause's")
      .addOption(
        new Option('--direction <direction>', 'the direction, when you know it').choices([
          'inbound',
          'outbound',
        ]),
      )
      .addOption(kbOption())
      .action(async (text: string[], opts) => (await import('./diagnose.js')).diagnoseCommand(text, opts));
  },
  probe: () => {
    withProbeFlags(program.command('probe'))
      .description(
        'test an endpoint the way the platform connects to it (dns, tcp, then tls, http, ssh/sftp, smtp or ftp), and diagnose what fails',
      )
      .addOption(kbOption())
      .addHelpText('after', PROBE_EXAMPLES)
      .action(async (url: string, opts) => (await import('./probe.js')).probeCommand(url, opts));
  },
  scan: () => {
    program
      .command('scan')
      .description(
        'find and diagnose every incident in logs, message processing log exports and HAR files, grouped',
      )
      .argument('[files...]', 'files to read (gzip too); standard input when none')
      .addOption(
        new Option(
          '--format <format>',
          'the input format: text (a log), mpl (message processing logs: OData JSON, JSON lines or the XML .mpl export), har (default: detected by content)',
        ).choices(['text', 'mpl', 'har']),
      )
      .option('--json', 'print the groups as JSON')
      .option('--jsonl', 'print one JSON line per incident')
      .option('--markdown', 'print a Markdown report')
      .option('--no-progress', 'no progress bar, even on a terminal')
      .addOption(kbOption())
      .addHelpText(
        'after',
        '\nExit codes: 0 nothing found, 1 incidents found, 2 usage error, or an input that could not be\nread or was read only in part (an export that ends in the middle: what was read is reported).',
      )
      .action(async (files: string[], opts) => (await import('./scan.js')).scanCommand(files, opts));
  },
  check: () => {
    program
      .command('check')
      .description('probe every target of an inventory file, one line each (exit 1 when any fails)')
      .argument('<inventory>', 'the inventory: targets, modules and labels (YAML)')
      .option(
        '--concurrency <n>',
        'probes at once',
        numberOption('--concurrency', { min: 1, max: 1000, whole: true, what: 'a whole number' }),
        16,
      )
      .option(
        '--per-host <n>',
        'probes at once against one host',
        numberOption('--per-host', { min: 1, max: 1000, whole: true, what: 'a whole number' }),
        4,
      )
      .option(
        '--only <label=value>',
        'only the targets with this label (module=NAME and name=NAME too; repeatable)',
        collect,
      )
      .option('--json', 'print JSON: every target with its probe')
      .option('--junit', 'print JUnit XML (one testcase per target)')
      .option('--markdown', 'print a Markdown table')
      .option('--no-progress', 'no progress bar, even on a terminal')
      .option(
        '--db [file]',
        'record the outcomes and their changes in this history database (default: in the data directory)',
      )
      .option(
        '--every <duration>',
        "check again on this schedule (5m, 1h) until stopped; a module's every overrides it",
      )
      .option(
        '--webhook <[format=]url>',
        'send each change here: json (default), slack= or teams= (repeatable; needs --db)',
        collect,
      )
      .option(
        '--webhook-env <[format=]VAR>',
        'as --webhook, the URL read from the environment variable VAR (kept out of ps and the history)',
        collect,
      )
      .addOption(kbOption())
      .addHelpText(
        'after',
        '\nExit codes: 0 every target ok, 1 a target fails, 2 usage error or an inventory with problems.',
      )
      .action(async (file: string, opts) => (await import('./check.js')).checkCommand(file, opts));
  },
  history: () => {
    program
      .command('history')
      .description('the results and changes the history database holds (written by check --db)')
      .argument('[target]', 'one target (its name in the inventory)')
      .option('--since <duration>', 'how far back (7d, 12h, 30m)', '7d')
      .option('--db <file>', 'the history database (default: in the data directory)')
      .option('--changes', 'only the changes')
      .option('--json', 'print JSON')
      .action(async (target: string | undefined, opts) =>
        (await import('./history.js')).historyCommand(target, opts),
      );
  },
  'known-hosts': () => {
    const knownHosts = program
      .command('known-hosts')
      .description('OpenSSH known_hosts: add a server host key, check one');
    withTimeout(knownHosts.command('add'), 'bound for the connection')
      .description(
        "fetch a server's host key and add its line to a known_hosts file (like ssh-keyscan, or the platform's Copy Host Key)",
      )
      .argument('<host[:port]>', 'the SSH/SFTP server (port 22 by default), or sftp://host:port')
      .option(
        '--known-hosts <file>',
        'the known_hosts file to add to (created if missing); without it the lines go to standard output, as ssh-keyscan prints them',
      )
      // The option's name before it was the same as check's and probe's.
      .addOption(new Option('--to <file>', 'the former name of --known-hosts').hideHelp())
      .option('--json', 'print JSON')
      .action(async (target: string, opts) => (await import('./known-hosts.js')).knownHostsAdd(target, opts));
    withTimeout(knownHosts.command('check'), 'bound for the connection')
      .description(
        "hold a server's host key against a known_hosts file: match, changed or unknown (exit 1 unless match)",
      )
      .argument('<host[:port]>', 'the SSH/SFTP server (port 22 by default), or sftp://host:port')
      .option('--known-hosts <file>', 'the known_hosts file (default: ~/.ssh/known_hosts, as ssh reads it)')
      .option('--json', 'print JSON')
      .action(async (target: string, opts) =>
        (await import('./known-hosts.js')).knownHostsCheck(target, opts),
      );
  },
  kb: () => {
    const kb = program.command('kb').description('the knowledge base: list, show and lint entries');
    kb.command('list')
      .description('list the entries')
      .option('--json', 'print JSON')
      .addOption(kbOption())
      .action(async (opts) => (await import('./kb.js')).kbList(opts));
    kb.command('show')
      .description('print one entry')
      .argument('<id>', 'entry id, e.g. out-cert-path')
      .option('--json', 'print JSON')
      .addOption(kbOption())
      .action(async (id: string, opts) => (await import('./kb.js')).kbShow(id, opts));
    kb.command('lint')
      .description('validate entries: schema, patterns, unique ids, and their own examples')
      .argument('[dir]', 'folder of entries (default: the built-in knowledge base)')
      .option('-q, --quiet', 'print problems only')
      .action(async (dir: string | undefined, opts) => (await import('./kb.js')).kbLint(dir, opts));
  },
  trust: () => {
    const trust = program
      .command('trust')
      .description('trust stores and keystores: show, expiring, add-from-site');
    trust
      .command('show')
      .description('list the entries of a PEM, PKCS#12, JKS or JCEKS store')
      .argument('<file>', 'the store')
      .option('--password-env <var>', 'environment variable holding the store password')
      .option('--json', 'print JSON')
      .action(async (file: string, opts) => (await import('./trust.js')).trustShow(file, opts));
    trust
      .command('expiring')
      .description('what expires within N days (exit 1 if anything does)')
      .argument('<file>', 'the store')
      .option('--days <n>', 'how many days ahead', daysOption, 30)
      .option('--password-env <var>', 'environment variable holding the store password')
      .option('--json', 'print JSON')
      .action(async (file: string, opts) => (await import('./trust.js')).trustExpiring(file, opts));
    withTimeout(trust.command('add-from-site'), 'bound for the connection')
      .summary("add a server's CA to a PEM, PKCS#12, JKS or JCEKS store")
      .description(
        'fetch the chain a server sends and add what is needed to trust it to a PEM, PKCS#12, JKS or JCEKS store (SAP note 2715005), then connect again and say whether a Java client now trusts the site (exit 1 and what still fails when not); without --to, show the chain and what would be added, as openssl s_client -showcerts does',
      )
      .argument(
        '<host[:port]>',
        'the server (port 443 by default), or an https://, smtp:// (STARTTLS), smtps://, ftp:// (AUTH TLS) or ftps:// URL',
      )
      .option(
        '--to <file>',
        'the store to add to: PEM (.pem/.crt), PKCS#12 (.p12/.pfx), JKS or JCEKS (an existing one, e.g. cacerts); a PEM or PKCS#12 file is created if missing. Without it nothing is written',
      )
      .option('--password-env <var>', 'environment variable holding the store password (PKCS#12, JKS, JCEKS)')
      .option('--servername <name>', 'the TLS server name (SNI), when it differs from the host')
      .option('--json', 'print JSON')
      .action(async (target: string, opts) => (await import('./trust.js')).trustAddFromSite(target, opts));
  },
  tenant: () => {
    const tenant = program
      .command('tenant')
      .description(
        "read a Cloud Integration tenant's API (/api/v1, read-only): failed messages diagnosed, keystore, deployed endpoints",
      )
      .addHelpText(
        'after',
        '\nThe service key (Process Integration Runtime, plan api, role MonitoringDataRead) comes from\n--service-key FILE or $LINKDOCTOR_SERVICE_KEY. HTTPS_PROXY/NO_PROXY and NODE_EXTRA_CA_CERTS\nare honoured.',
      );
    const tenantFlags = (c: Command) =>
      c
        .option('--service-key <file>', 'the service key JSON (else $LINKDOCTOR_SERVICE_KEY)')
        .option('--timeout <seconds>', 'bound of each request', secondsOption(), 30)
        .option('--json', 'print JSON');
    tenantFlags(
      tenant
        .command('failures')
        .description('the failed messages of a window, each error text diagnosed and grouped as scan does'),
    )
      .option('--since <when>', 'start: 24h, 90m, 7d before now, or an ISO date (UTC)', '24h')
      .option('--until <when>', 'end (default: now)')
      .option('--iflow <name>', 'only this integration flow')
      .option('--status <list>', 'statuses to read (default FAILED,RETRY,ESCALATED)')
      .option(
        '--max <n>',
        'read at most the newest N messages',
        numberOption('--max', { min: 1, max: 1_000_000, whole: true, what: 'a number of messages' }),
        100_000,
      )
      .option('--jsonl', 'print one JSON line per incident')
      .option('--markdown', 'print a Markdown report')
      .option('--no-progress', 'no progress line, even on a terminal')
      .addOption(kbOption())
      .action(async (opts) => (await import('./tenant.js')).tenantFailuresCommand(opts));
    tenantFlags(
      tenant
        .command('keystore')
        .description(
          'the keystore entries as the Keystore Monitor lists them; exit 1 when one expires within --days',
        ),
    )
      .option('--days <n>', 'how many days ahead', daysOption, 30)
      .option(
        '--export <file>',
        "write the tenant's certificates to a PEM (.pem) or PKCS#12 (.p12) trust store",
      )
      .option('--password-env <var>', 'environment variable holding the PKCS#12 password (--export)')
      .action(async (opts) => (await import('./tenant.js')).tenantKeystoreCommand(opts));
    tenantFlags(
      tenant
        .command('endpoints')
        .description(
          'the deployed integration flows (status, deployment errors) and their inbound URLs; exit 1 when one is in ERROR',
        ),
    ).action(async (opts) => (await import('./tenant.js')).tenantEndpointsCommand(opts));
  },
  lab: () => {
    program
      .command('lab')
      .description('start local servers that reproduce the known failures, and print them')
      .option('--port <n>', 'first port to use (default: any free ports)', portOption)
      .option('--json', 'print the servers as JSON')
      .action(async (opts) => (await import('./lab.js')).labCommand(opts));
  },
  serve: () => {
    program
      .command('serve')
      .description('serve the HTTP API and the web UI (loopback only, unless LINKDOCTOR_TOKEN is set)')
      .option('--port <n>', 'port to listen on', portOption, 8080)
      .option(
        '--host <address>',
        'address to listen on; any but loopback needs LINKDOCTOR_TOKEN',
        '127.0.0.1',
      )
      .option('--max-upload <size>', 'largest scan upload, e.g. 200MB (default 200MB)', (v: string) =>
        sizeOption(v),
      )
      .option(
        '--allow-targets <list>',
        'hosts, addresses and CIDRs the API may probe, comma-separated (repeatable)',
        (v: string, prev?: string[]) => targetsOption(v, prev),
      )
      .option(
        '--secret-targets <VAR=hosts>',
        'LINKDOCTOR_VAR=host[:port][,host...]: the only hosts a probe request may send that secret to, or /path: the only files a store or key password may open (repeatable)',
        // Collected as written; serve checks each entry when it starts (addSecretTargets), so that no
        // command's cold start loads the checker.
        collect,
      )
      .option(
        '--plain-http-credentials',
        'let a probe request send Basic credentials or an OAuth secret over http://, or a password over plain FTP (in clear text)',
      )
      .option('--inventory <file>', 'check this inventory on a schedule; /metrics shows its latest outcomes')
      .option(
        '--every <duration>',
        "with --inventory: how often to check a target (default 5m; a module's every overrides it)",
      )
      .option('--db <file>', 'with --inventory: the history database (default: in the data directory)')
      .option(
        '--webhook <[format=]url>',
        'with --inventory: send each change here: json, slack= or teams= (repeatable)',
        collect,
      )
      .option(
        '--webhook-env <[format=]VAR>',
        'as --webhook, the URL read from the environment variable VAR (kept out of ps and the history)',
        collect,
      )
      .option(
        '--probe-workers <n>',
        "threads that run the exporter's /probe probes (default: one per core up to 4 on more than 2 cores, else 0; 0: the server's own)",
        numberOption('--probe-workers', { min: 0, max: 16, whole: true, what: 'a whole number' }),
      )
      .option('--lab', "also start the lab's failure servers, with a Lab page to probe each")
      .option(
        '--service-key <file>',
        "a tenant's service key: the tenant pages and API (else $LINKDOCTOR_SERVICE_KEY)",
      )
      .addOption(kbOption())
      .action(async (opts) => (await import('./serve.js')).serveCommand(opts));
  },
  demo: () => {
    program
      .command('demo')
      .description(
        'the offline demo: start the lab, probe each of its servers and print the verdict and diagnosis, stop it; then diagnose a few sample error texts',
      )
      .action(async () => (await import('./demo.js')).demoCommand());
  },
};
const named = process.argv[2];
if (named !== undefined && Object.hasOwn(COMMANDS, named)) COMMANDS[named]!();
else for (const define of Object.values(COMMANDS)) define();

// A reader that went away (`| head`): done. A terminal that went away (EIO: its ssh session ended)
// shows nothing more, and the command goes on: `serve` keeps serving (see closeOnSignals).
for (const out of [process.stdout, process.stderr])
  out.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EIO') return;
    if (e.code === 'EPIPE' && out === process.stdout) process.exit(process.exitCode ?? 0);
    throw e;
  });

try {
  await program.parseAsync();
} catch (e) {
  if (e instanceof CommanderError) {
    process.exitCode = e.exitCode === 0 ? 0 : 2;
    if (e.message.startsWith('error:'))
      process.stderr.write(`linkdoctor: ${printable(usageSentence(e.message, process.argv.slice(2)))}\n`);
  } else if (!(await import('../lab/index.js')).stopSignal.handling) {
    // (A lab stopping on a signal removes its files under a start still running: its handler exits.)
    const { KbError } = await import('../kb/load.js');
    // Error sentences quote input (file names, hosts, a peer's answer): printable, every one.
    if (e instanceof UserError) process.stderr.write(`linkdoctor: ${printable(e.message)}\n`);
    else if (e instanceof KbError)
      process.stderr.write(`linkdoctor: the knowledge base has problems:\n${printable(e.message)}\n`);
    else {
      process.stderr.write(`linkdoctor: internal error: ${printable((e as Error)?.message ?? String(e))}\n`);
      if (process.env.LINKDOCTOR_DEBUG) process.stderr.write(`${printable(String((e as Error)?.stack))}\n`);
    }
    process.exitCode = 2;
  }
}
