// POST /api/scan: an uploaded log, message processing log export or HAR file (gzip too), as the raw
// request body, scanned as it arrives by the same pipeline as `linkdoctor scan`; the answer is what
// `scan --json` prints. With `Accept: application/x-ndjson` the scan streams: {"progress": {...}}
// lines (at most 10 a second), {"incident": ...} lines as `scan --jsonl` prints them when
// `incidents=true`, {"problem": ...} lines, then {"result": <scan --json>}.
// The upload is capped (--max-upload): a larger Content-Length is refused before reading, and a
// body that outgrows the cap without one is cut off with a 413.
import { PassThrough, Transform } from 'node:stream';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { formatPlace, incidentJson, scanJson } from '../report/scan.js';
import { jsonText } from '../report/printable.js';
import { scan, type ScanResult } from '../scan/run.js';
import { DEFAULT_MAX_UPLOAD } from './app.js';
import { HttpProblem } from './problem.js';
import { problemSchema } from './schemas.js';

const mb = (n: number) => `${(n / 1024 / 1024).toFixed(n < 1024 * 1024 ? 2 : 0)} MB`;
const PROGRESS_MS = 100;
/** Media types the upload may be sent as: the bytes themselves; gzip is told by its magic bytes. */
export const UPLOAD_TYPES = ['application/octet-stream', 'application/gzip', 'application/x-gzip'];

export const scanQuery = z.object({
  name: z
    .string()
    .max(255)
    // eslint-disable-next-line no-control-regex
    .regex(/^[^/\\\x00-\x1f\x7f]+$/, 'a file name without path or control characters')
    .default('upload')
    .describe('the file name, shown in the places of incidents'),
  format: z
    .enum(['text', 'mpl', 'har'])
    .optional()
    .describe('the input format (default: detected by content)'),
  incidents: z
    .enum(['true', 'false'])
    .default('false')
    .describe('with Accept: application/x-ndjson, also stream every incident as scan --jsonl prints it'),
});

class TooLarge extends Error {}

/** The scan room. */
export const scanRoutes: FastifyPluginAsyncZod = async (app) => {
  const cap = app.linkdoctor.options.maxUploadBytes ?? DEFAULT_MAX_UPLOAD;
  // The body is the file: handed to the scan as a stream, never buffered whole.
  app.addContentTypeParser(UPLOAD_TYPES, (_req, payload, done) => done(null, payload));

  app.post(
    '/api/scan',
    {
      bodyLimit: cap,
      schema: {
        summary: 'Find, diagnose and group every incident of an uploaded log, MPL export or HAR file',
        description: `The file is the request body (${UPLOAD_TYPES.join(', ')}); gzip is recognised by its content. At most --max-upload bytes (${mb(cap)} on this server).`,
        tags: ['scan'],
        querystring: scanQuery,
        response: {
          200: z.looseObject({ summary: z.looseObject({}) }),
          400: problemSchema,
          413: problemSchema,
        },
      },
    },
    async (req, reply) => {
      const length = Number(req.headers['content-length'] ?? NaN);
      if (length > cap)
        throw new HttpProblem(
          413,
          `the upload is ${mb(length)}; this server takes at most ${mb(cap)} (--max-upload)`,
        );
      if (
        !req.headers['content-type'] ||
        !UPLOAD_TYPES.includes(req.headers['content-type'].split(';')[0]!.trim())
      )
        throw new HttpProblem(415, `send the file as the body, with Content-Type ${UPLOAD_TYPES[0]}`);
      const body = req.body as NodeJS.ReadableStream;
      let seen = 0;
      const counted = new Transform({
        transform(chunk: Buffer, _enc, next) {
          seen += chunk.length;
          if (seen > cap) next(new TooLarge());
          else next(null, chunk);
        },
      });
      body.on('error', (e) => counted.destroy(e));
      body.pipe(counted);

      const q = req.query;
      const streaming = /application\/x-ndjson/.test(req.headers.accept ?? '');
      const out = streaming ? new PassThrough() : undefined;
      const line = (o: object) => out?.write(`${jsonText(o)}\n`);
      const problems: string[] = [];
      let last = 0;
      const run = scan(app.linkdoctor.kb, {
        files: ['-'],
        stdin: counted,
        stdinName: q.name,
        ...(q.format ? { format: q.format } : {}),
        onProgress: (p) => {
          const now = performance.now();
          if (!out || now - last < PROGRESS_MS) return;
          last = now;
          line({
            progress: { bytes: seen, ...(length >= 0 ? { total: length } : {}), incidents: p.incidents },
          });
        },
        onProblem: (p) => {
          problems.push(`${formatPlace(p.place, true)}: ${p.message}`);
          line({ problem: { ...p.place, message: p.message } });
        },
        ...(out && q.incidents === 'true'
          ? {
              onIncident: (inc) => {
                if (!out.write(`${jsonText({ incident: incidentJson(inc) })}\n`))
                  return new Promise<void>((done) => out.once('drain', done));
              },
            }
          : {}),
      });
      const tooLarge = () =>
        new HttpProblem(413, `the upload outgrew this server's cap of ${mb(cap)} (--max-upload)`);
      const finish = (r: ScanResult) => {
        if (seen > cap) throw tooLarge();
        if (r.unreadable) throw new HttpProblem(400, problems.join('; ') || 'the upload could not be read');
        return scanJson(r, app.linkdoctor.kb);
      };
      if (!out)
        return finish(
          await run.catch((e: Error) => {
            throw e instanceof TooLarge ? tooLarge() : e;
          }),
        ) as { summary: Record<string, unknown> };
      run
        .then(
          (r) => line({ result: finish(r) }),
          (e: Error) => line({ error: (e instanceof TooLarge ? tooLarge() : e).message }),
        )
        .catch((e: Error) => line({ error: e.message }))
        .finally(() => out.end());
      // The stream is no JSON object: the schema documents the non-streaming answer.
      return reply.type('application/x-ndjson').send(out as never);
    },
  );
};
