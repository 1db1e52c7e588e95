// POST /api/scan: an uploaded log, message processing log export or HAR file (gzip too), as the raw
// request body or as the file of a multipart/form-data form (`curl -F file=@app.log`, an HTML form;
// @fastify/multipart), scanned as it arrives by the same pipeline as `linkdoctor scan`; the answer is what
// `scan --json` prints. With `Accept: application/x-ndjson` the scan streams: {"progress": {...}}
// lines (at most 10 a second), {"incident": ...} lines as `scan --jsonl` prints them when
// `incidents=true`, {"problem": ...} lines, then {"result": <scan --json>}.
// The upload is capped (--max-upload): a larger Content-Length is refused before reading, and a
// body (or a form's file) that outgrows the cap while it is read is cut off with a 413; so is a gzip
// upload once what it inflates to outgrows the same cap (a 1 MB gzip can hold 1 GB of newlines).
import { PassThrough, Transform } from 'node:stream';
import multipart from '@fastify/multipart';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { formatPlace, incidentJson, MAX_PROBLEMS_LISTED, problemJson, scanJson } from '../report/scan.js';
import type { Problem } from '../scan/incident.js';
import { jsonText } from '../report/printable.js';
import { DecompressedTooLarge, scan, type ScanResult } from '../scan/run.js';
import { DEFAULT_MAX_UPLOAD } from './app.js';
import { HttpProblem } from './problem.js';
import { problemSchema } from './schemas.js';

const mb = (n: number) => `${(n / 1024 / 1024).toFixed(n < 1024 * 1024 ? 2 : 0)} MB`;
const PROGRESS_MS = 100;
/** Media types the upload may be sent as: the bytes themselves; gzip is told by its magic bytes. */
export const UPLOAD_TYPES = ['application/octet-stream', 'application/gzip', 'application/x-gzip'];
/** What a multipart form may add around its file (boundaries, part headers, a few small fields). */
const FORM_SLACK = 64 * 1024;
/** A file name as the places of incidents show it: no path, no control characters. */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x1f\x7f]/g;
const fileName = (raw: string) =>
  raw
    .replace(/^.*[/\\]/, '')
    .replace(CONTROL, '_')
    .slice(0, 255) || 'upload';

export const scanQuery = z.strictObject({
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
  // A form's file is streamed too (busboy); one file, a few small fields, the cap as its own bound.
  await app.register(multipart, {
    limits: { files: 1, fields: 10, fieldSize: 1024, parts: 12, headerPairs: 50, fileSize: cap + 1 },
  });

  app.post(
    '/api/scan',
    {
      bodyLimit: cap,
      schema: {
        summary: 'Find, diagnose and group every incident of an uploaded log, MPL export or HAR file',
        description: `The file is the request body (${UPLOAD_TYPES.join(', ')}), or the file of a multipart/form-data form (its file name is the default name); gzip is recognised by its content. At most --max-upload bytes (${mb(cap)} on this server), and a gzip file at most that once inflated.`,
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
      const form = req.isMultipart();
      if (length > cap + (form ? FORM_SLACK : 0))
        throw new HttpProblem(
          413,
          `the upload is ${mb(length)}; this server takes at most ${mb(cap)} (--max-upload)`,
        );
      if (
        !form &&
        (!req.headers['content-type'] ||
          !UPLOAD_TYPES.includes(req.headers['content-type'].split(';')[0]!.trim()))
      )
        throw new HttpProblem(
          415,
          `send the file as the body, with Content-Type ${UPLOAD_TYPES[0]}, or as the file of a multipart/form-data form`,
        );
      let body: NodeJS.ReadableStream;
      let name = req.query.name;
      if (form) {
        const part = await req.file().catch((e: Error) => {
          throw new HttpProblem(400, `the form could not be read: ${e.message}`);
        });
        if (!part)
          throw new HttpProblem(
            400,
            'the form holds no file: send the log as a file field (curl -F file=@app.log)',
          );
        body = part.file;
        // The form's file name, unless the query names it.
        if (!new URL(req.url, 'http://x').searchParams.has('name')) name = fileName(part.filename);
      } else body = req.body as NodeJS.ReadableStream;
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
      /** The sentences of inputs read only in part (a truncated export): the CLI's exit 2, a 400 here. */
      const incomplete: string[] = [];
      /** The problems the answer lists (scan --json's `problems`). */
      const listed: Problem[] = [];
      let last = 0;
      const run = scan(app.linkdoctor.kb, {
        files: ['-'],
        stdin: counted,
        stdinName: name,
        // gzip is inflated as it is read: the cap holds for what it inflates to as well.
        maxDecompressedBytes: cap,
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
          if (p.incomplete) incomplete.push(problems.at(-1)!);
          if (listed.length < MAX_PROBLEMS_LISTED) listed.push(p);
          line({ problem: problemJson(p) });
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
      // What fails once the cap is passed (busboy's own limit, say) is the cap's 413.
      const capped = (e: Error) => {
        if (e instanceof DecompressedTooLarge) {
          // The rest of the upload is not read: the connection goes with the answer.
          reply.header('connection', 'close');
          return new HttpProblem(
            413,
            `the upload decompresses to more than ${mb(cap)}, this server's cap (--max-upload), and was not scanned further`,
          );
        }
        return e instanceof TooLarge || seen > cap ? tooLarge() : e;
      };
      const finish = (r: ScanResult) => {
        if (seen > cap) throw tooLarge();
        if (r.unreadable) throw new HttpProblem(400, problems.join('; ') || 'the upload could not be read');
        // What was read of a truncated export is no result: the user would take it for the whole.
        if (r.incomplete) throw new HttpProblem(400, incomplete.join('; '));
        return scanJson(r, app.linkdoctor.kb, listed);
      };
      if (!out)
        return finish(
          await run.catch((e: Error) => {
            throw capped(e);
          }),
        ) as { summary: Record<string, unknown> };
      run
        .then(
          (r) => line({ result: finish(r) }),
          (e: Error) => line({ error: capped(e).message }),
        )
        .catch((e: Error) => line({ error: e.message }))
        .finally(() => out.end());
      // The stream is no JSON object: the schema documents the non-streaming answer.
      return reply.type('application/x-ndjson').send(out as never);
    },
  );
};
