// The offline demo until the lab exists: diagnoses a few bundled sample errors.
import { diagnose } from '../diagnose/match.js';
import { loadKb } from '../kb/load.js';
import { colorsFor, wrap } from '../report/text.js';

export const SAMPLES: { what: string; text: string }[] = [
  {
    what: 'an HTTP receiver call, from the message processing log',
    text: 'javax.net.ssl.SSLHandshakeException: PKIX path building failed: sun.security.provider.certpath.SunCertPathBuilderException: unable to find valid certification path to requested target',
  },
  {
    what: 'an SFTP receiver',
    text: '[CAMEL][IFLOW][EXCEPTION] : com.jcraft.jsch.JSchException: HostKey has been changed: [sftp.example.com]:22',
  },
  {
    what: 'a SOAP receiver',
    text: "org.apache.cxf.transport.http.HTTPException: HTTP response '401: Unauthorized' when communicating with https://erp.example.com:44300/sap/bc/srt/rfc/sap/zorders",
  },
  {
    what: 'an ABAP sender calling the tenant (SM59 connection test)',
    text: 'SSL handshake with mytenant.it-cpi018-rt.cfapps.eu10-003.hana.ondemand.com:443 failed: SSSLERR_PEER_CERT_UNTRUSTED (-102)',
  },
  {
    what: 'a POST without a body to a receiver',
    text: 'com.sap.it.rt.adapter.http.api.exception.HttpResponseException: An internal server error occured: HTTP operation failed invoking https://api.example.com/v1/jobs/42/start with statusCode: 411',
  },
];

export async function demoCommand(): Promise<void> {
  const kb = await loadKb();
  const c = colorsFor(process.stdout);
  const out: string[] = [c.bold(`linkdoctor demo: ${SAMPLES.length} sample errors, diagnosed offline`), ''];
  let diagnosed = 0;
  for (const [i, s] of SAMPLES.entries()) {
    const result = diagnose(kb, { text: s.text });
    const top = result.diagnoses[0];
    out.push(`${c.bold(`${i + 1}. ${s.what}`)}`, c.dim(wrap(s.text, '   ')));
    if (top) {
      diagnosed++;
      out.push(`   ${c.green('→')} ${c.bold(top.id)} (${top.confidence.toFixed(2)}) ${top.title}`);
      out.push(wrap(`fix: ${top.fixes[0]}`, '     '));
    } else out.push(`   ${c.yellow('?')} no known issue matched`);
    out.push('');
  }
  out.push(
    `${diagnosed} of ${SAMPLES.length} diagnosed. For the full report of one: linkdoctor diagnose "<error text>"`,
    '',
  );
  process.stdout.write(out.join('\n'));
  process.exitCode = diagnosed === SAMPLES.length ? 0 : 1;
}
