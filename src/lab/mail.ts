// The lab's SMTP scenarios (smtp-server): a server that demands STARTTLS but hides it from EHLO, one
// that refuses every login, and the "587" stand-in of the port-25 advice.
import type { Server } from 'node:net';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import type { LabContext, ScenarioSpec } from './servers.js';

/** A lab mail server: the valid lab chain for STARTTLS, and never a message taken. */
function mailServer({ pki }: LabContext, options: SMTPServerOptions = {}): Server {
  const smtp = new SMTPServer({
    key: pki.local.keyPem,
    cert: pki.local.certPem + pki.issuing.certPem,
    banner: 'linkdoctor lab mail',
    authMethods: ['PLAIN', 'LOGIN'],
    authOptional: true,
    logger: false,
    onData(stream, _session, cb) {
      stream.resume();
      stream.on('end', () => cb(Object.assign(new Error('the lab takes no mail'), { responseCode: 554 })));
    },
    ...options,
  });
  // A client that hangs up mid-session (a probe's timeout) must not crash the lab.
  smtp.on('error', () => undefined);
  return smtp.server;
}

export const MAIL_SCENARIOS: ScenarioSpec[] = [
  {
    name: 'smtp-starttls-hidden',
    scheme: 'smtp',
    path: '',
    reproduces:
      'an SMTP server that demands STARTTLS (530 5.7.0 before MAIL FROM) but does not offer it in EHLO, as behind a firewall that strips it',
    expect: 'smtp-starttls-required',
    cause: 'tls-required',
    probeArgs: [],
    server: (ctx) =>
      mailServer(ctx, {
        hideSTARTTLS: true,
        onMailFrom: (_address, session, cb) =>
          session.secure
            ? cb()
            : cb(
                Object.assign(new Error('5.7.0 Must issue a STARTTLS command first'), { responseCode: 530 }),
              ),
      }),
  },
  {
    name: 'smtp-auth-refused',
    scheme: 'smtp',
    path: '',
    reproduces: 'an SMTP server (STARTTLS, AUTH PLAIN LOGIN) that refuses every login with 535',
    expect: 'smtp-auth-failed',
    cause: 'wrong-credentials',
    probeArgs: ['-u', 'lab', '--password-env', 'LAB_PASSWORD'],
    server: (ctx) =>
      mailServer(ctx, {
        authOptional: false,
        onAuth: (_auth, _session, cb) =>
          cb(Object.assign(new Error('5.7.8 Authentication credentials invalid'), { responseCode: 535 })),
      }),
  },
  {
    name: 'smtp-port-25-blocked',
    scheme: 'smtp',
    path: '',
    reproduces:
      'port "25" closed while the submission port "587" answers with STARTTLS (stand-ins on free ports, given to the probe in LINKDOCTOR_SMTP_ALT_PORTS)',
    expect: 'out-fsm-sequential-smtp',
    cause: 'port-25-blocked',
    probeArgs: [],
    portAdvice: true,
    server: (ctx) => mailServer(ctx),
  },
];
