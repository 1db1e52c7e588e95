// POST /api/scan: uploaded logs, message processing log exports or HAR files (gzip too), as the raw
// request body or as the files of a multipart/form-data form (`curl -F file=@a.log -F file=@b.log`,
// an HTML form; @fastify/multipart), scanned as they arrive by the same pipeline as `linkdoctor scan`;
// the answer is what `scan --json` prints (a form's files as `scan a.log b.log`: one summary, each
// incident with its file's name). With `Accept: application/x-ndjson` the scan streams:
// {"progress": {...}} lines (at most 10 a second), {"incident": ...} lines as `scan --jsonl` prints
// them when `incidents=true`, {"problem": ...} lines, then {"result": <scan --json>}.
// The upload is capped (--max-upload): a larger Content-Length is refused before reading, and a
// body (or a form's files together) that outgrows the cap while it is read is cut off with a 413; so
// is a gzip upload once what it inflates to outgrows the same cap (a 1 MB gzip can hold 1 GB of newlines).
import { PassThrough, Transform } from 'node:stream';
import multipart from '@fastify/multipart';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { formatPlace, incidentJson, MAX_PROBLEMS_LISTED, problemJson, scanJson } from '../report/scan.js';
import type { Problem } from '../scan/incident.js';
import { jsonText } from '../report/printable.js';
import { DecompressedTooLarge, type NamedInput, scan, type ScanResult } from '../scan/run.js';
import { DEFAULT_MAX_UPLOAD, UPLOAD_IDLE_MS } from './app.js';
import { HttpProblem, problem } from './problem.js';
import { problemSchema } from './schemas.js';

const mb = (n: number) => `${(n / 1024 / 1024).toFixed(n < 1024 * 1024 ? 2 : 0)} MB`;
const PROGRESS_MS = 100;
/** How much of an upload may be read ahead of the scan (bytes held in memory at most). */
const READ_AHEAD = 4 * 1024 * 1024;
/** What a multipart form may add around its files (boundaries, part headers, a few small fields). */
const FORM_SLACK = 64 * 1024;
/** The most files one form may hold: each is scanned in turn, as `linkdoctor scan a b` reads its files. */
export const MAX_FORM_FILES = 32;
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
    .describe(
      "the file name, shown in the places of incidents (a form's file goes by its own name; name= renames a form of one file)",
    ),
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
/** The upload sent nothing for the idle time (UPLOAD_IDLE_MS): what reads it fails with this. */
class UploadIdle extends Error {}

/** The scan room. */
export const scanRoutes: FastifyPluginAsyncZod = async (app) => {
  const cap = app.linkdoctor.options.maxUploadBytes ?? DEFAULT_MAX_UPLOAD;
  const idleMs = app.linkdoctor.options.uploadIdleMs ?? UPLOAD_IDLE_MS;
  // The body is the file, whatever its Content-Type says (a client sends a .json export as
  // application/json, a log as text/plain): its bytes, handed to the scan as a stream, never parsed
  // or buffered whole; what it is, the scan tells from the bytes. Only this room's parsers change.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_req, payload, done) => done(null, payload));
  // A form's files are streamed too (busboy), one after the other; a few small fields; the cap as
  // each file's own bound (and the files' together, counted below).
  await app.register(multipart, {
    limits: {
      files: MAX_FORM_FILES,
      fields: 10,
      fieldSize: 1024,
      parts: MAX_FORM_FILES + 10,
      headerPairs: 50,
      fileSize: cap + 1,
    },
  });

  app.post(
    '/api/scan',
    {
      bodyLimit: cap,
      schema: {
        summary: 'Find, diagnose and group every incident of an uploaded log, MPL export or HAR file',
        description: `The file is the request body, whatever its Content-Type (application/octet-stream, application/json for a .json export, text/plain: its bytes are scanned, and what it is told from them), or the files of a multipart/form-data form (at most ${MAX_FORM_FILES}, each scanned under its own file name, as \`linkdoctor scan a b\` scans its files); gzip is recognised by its content. At most --max-upload bytes in all (${mb(cap)} on this server), and the gzip files at most that once inflated.`,
        tags: ['scan'],
        querystring: scanQuery,
        response: {
          200: z.looseObject({ summary: z.looseObject({}) }),
          400: problemSchema,
          413: problemSchema,
          422: problemSchema
            .extend({ summary: z.looseObject({}) })
            .loose()
            .describe(
              "an upload read only in part (a truncated export or gzip) or a form with a file that could not be read: the problem, and scan --json's object of what was read",
            ),
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
      const named = new URL(req.url, 'http://x').searchParams.has('name');
      /** Bytes of the upload read so far (a form's files together). */
      let seen = 0;
      /** The input being read now: an upload that stops sending makes it fail. */
      let current: Transform | undefined;
      /** Rejects when the upload stopped sending: a form waiting for its next file waits no longer. */
      let gaveUp!: (e: UploadIdle) => void;
      const stalled = new Promise<never>((_ok, fail) => (gaveUp = fail));
      stalled.catch(() => {});
      let idle = false;
      // Node's idle timer of the socket: the request emits 'timeout' only while its body is not
      // complete, so this gives up an upload that stops sending, never a scan that takes its time.
      // (A scan still busy with what came reads nothing from the socket meanwhile, and would be taken
      // for one: READ_AHEAD, 4 MB, at the slowest scan measured, 0.44 MB/s (attack S12), is 9 s.)
      // (An inject()ed request of the tests has no socket and no timer: nothing to bound there.)
      if (typeof req.raw.setTimeout === 'function') {
        req.raw.setTimeout(idleMs, () => {
          if (reply.sent) return void req.raw.socket?.destroy();
          idle = true;
          const e = new UploadIdle();
          current?.destroy(e);
          gaveUp(e);
        });
        // Once the body is in, the socket has no idle bound of ours (Node would close it at the next).
        req.raw.once('end', () => req.raw.setTimeout(0));
      }
      /** `src` counted against the cap: past it, the stream fails with TooLarge. */
      const counted = (src: NodeJS.ReadableStream) => {
        const out = new Transform({
          // Read ahead of the scan, so that a gzip upload's inflated size is counted ahead of it
          // too (src/scan/input.ts): a bomb is refused as soon as it shows.
          readableHighWaterMark: READ_AHEAD,
          transform(chunk: Buffer, _enc, next) {
            seen += chunk.length;
            if (seen > cap) next(new TooLarge());
            else next(null, chunk);
          },
        });
        src.on('error', (e) => out.destroy(e));
        src.pipe(out);
        return (current = out);
      };
      /** The inputs: the body, or each file of the form as busboy hands it over. */
      async function* uploads(): AsyncGenerator<NamedInput> {
        if (!form) {
          yield { name: req.query.name, stream: counted(req.body as NodeJS.ReadableStream) };
          return;
        }
        let files = 0;
        const parts = req.files()[Symbol.asyncIterator]();
        try {
          for (;;) {
            const next = await Promise.race([parts.next(), stalled]);
            if (next.done) return;
            const part = next.value;
            if (++files > 1 && named)
              throw new HttpProblem(
                400,
                'name= renames the one file of a form, and this form holds several: leave it out, each file then goes by its own name',
              );
            const stream = counted(part.file);
            // The form's file name, unless the query names it.
            yield { name: named ? req.query.name : fileName(part.filename), stream };
            // What the scan left unread (a file it refused after its first bytes) is read and
            // dropped: busboy hands over the next file only after it.
            part.file.unpipe(stream);
            part.file.resume();
            if (seen > cap || idle) return;
          }
        } catch (e) {
          if (e instanceof HttpProblem || e instanceof UploadIdle) throw e;
          if ((e as { code?: string }).code === 'FST_FILES_LIMIT')
            throw new HttpProblem(
              413,
              `the form holds more than ${MAX_FORM_FILES} files, the most this server scans in one request: send the others in another`,
            );
          throw new HttpProblem(400, `the form could not be read: ${(e as Error).message}`);
        }
      }

      const q = req.query;
      const streaming = /application\/x-ndjson/.test(req.headers.accept ?? '');
      const out = streaming ? new PassThrough() : undefined;
      const line = (o: object) => out?.write(`${jsonText(o)}\n`);
      const problems: string[] = [];
      /** The problems the answer lists (scan --json's `problems`). */
      const listed: Problem[] = [];
      let last = 0;
      const run = scan(app.linkdoctor.kb, {
        files: [],
        inputs: uploads(),
        // gzip is inflated as it is read: the cap holds for what it inflates to as well.
        maxDecompressedBytes: cap,
        ...(q.format ? { format: q.format } : {}),
        onProgress: (p) => {
          const now = performance.now();
          if (!out || now - last < PROGRESS_MS) return;
          last = now;
          line({
            progress: {
              file: p.file,
              bytes: seen,
              ...(length >= 0 ? { total: length } : {}),
              incidents: p.incidents,
            },
          });
        },
        onProblem: (p) => {
          problems.push(`${formatPlace(p.place, true)}: ${p.message}`);
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
      const idleProblem = () => {
        // The rest of the upload will not come: the connection goes with the answer.
        if (!reply.raw.headersSent) reply.header('connection', 'close');
        return new HttpProblem(
          408,
          `the upload stopped: nothing came for ${idleMs / 1000} s, so it was given up and not scanned`,
        );
      };
      const tooLarge = () =>
        new HttpProblem(413, `the upload outgrew this server's cap of ${mb(cap)} (--max-upload)`);
      // What fails once the cap is passed (busboy's own limit, say) is the cap's 413.
      const capped = (e: Error) => {
        if (idle) return idleProblem();
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
      /**
       * The answer: scan --json's object. An upload read only in part (a truncated export, a cut gzip)
       * or a form with a file that could not be read (the CLI's exit 2, with its result printed) is a
       * 422 problem body that carries that object too (RFC 9457 extension members: summary,
       * problems, groups, unknown), so that what was read is not lost and not taken for the whole;
       * nothing read at all is a 400 with the sentences.
       */
      const finish = (r: ScanResult): { status: 200 | 422; body: object } => {
        if (idle) throw idleProblem();
        if (seen > cap) throw tooLarge();
        if (form && !r.files)
          throw new HttpProblem(
            400,
            'the form holds no file: send the log as a file field (curl -F file=@app.log)',
          );
        if (r.unreadable >= r.files)
          throw new HttpProblem(400, problems.join('; ') || 'the upload could not be read');
        const body = scanJson(r, app.linkdoctor.kb, listed);
        if (!r.unreadable && !r.incomplete) return { status: 200, body };
        const detail = `${problems.join('; ')} (the result holds what was read)`;
        return { status: 422, body: { ...problem(422, detail), ...body } };
      };
      if (!out) {
        const { status, body } = finish(
          await run.catch((e: Error) => {
            throw capped(e);
          }),
        );
        if (status === 200) return body as { summary: Record<string, unknown> };
        return reply
          .code(422)
          .type('application/problem+json')
          .send(body as never);
      }
      run
        .then(
          (r) => line({ result: finish(r).body }),
          (e: Error) => line({ error: capped(e).message }),
        )
        .catch((e: Error) => line({ error: e.message }))
        .finally(() => {
          out.end();
          // Streamed, the answer had begun: the connection is closed once it is sent.
          if (idle) reply.raw.once('finish', () => req.raw.socket?.destroy());
        });
      // The stream is no JSON object: the schema documents the non-streaming answer.
      return reply.type('application/x-ndjson').send(out as never);
    },
  );
};
