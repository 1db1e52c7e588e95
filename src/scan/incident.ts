// What readers hand to the scan pipeline: candidate events with their place in the input.
import type { Diagnosis, Facts } from '../types.js';

/** Where something is in the input: a file (or "-" for standard input) and a line, byte or record. */
export interface Place {
  file: string;
  /** 1-based line where it starts, when the input has lines that mean something. */
  line?: number;
  /** Byte offset from the start of the (decompressed) input. */
  offset?: number;
  /**
   * 0-based index of the record (MPL entry, HAR entry) among the records of the file (the reports,
   * JSON included, count from 1: placeJson).
   */
  record?: number;
}

/** Something wrong with the input itself: reported with its place, and the scan goes on. */
export interface Problem {
  place: Place;
  message: string;
  /**
   * The input ends or breaks where it should not (a truncated export, a JSON document cut off): what
   * came before was read, the rest is missing, so the result is incomplete (scan exits 2).
   */
  incomplete?: true;
}

export type Report = (p: Problem) => void;

/** One event a reader found worth diagnosing. */
export interface Candidate {
  /** What the matcher reads: the whole event (a stack trace with its "Caused by" chain, say). */
  text: string;
  /** The input's bytes of the event, when the reader has them (spares encoding `text` again). */
  bytes?: Uint8Array;
  place: Place;
  /** The event's one-line headline, secrets removed; from the first line of `text` when absent. */
  message?: string;
  /** The time as written in the input, and as epoch milliseconds when it could be read. */
  time?: string;
  at?: number;
  /** Why the event is an incident whatever the knowledge base says ("level ERROR", "status FAILED", "HTTP 503"). */
  failing?: string;
  host?: string;
  iflow?: string;
  messageGuid?: string;
  /** What a scan's worker thread worked out of a text event ahead of its classification (text.ts, prepareEvent). */
  prepared?: Prepared;
}

/**
 * The parts of a candidate's classification that depend on its text alone, worked out where it was
 * found (a worker thread) so that the scan's own thread, which holds the one cache of verdicts, only
 * looks its verdict up: the text it is judged by (eventText), its headline (describeEvent) and that
 * headline masked (mask).
 */
export interface Prepared {
  judged: string;
  described: { message: string; time?: string; at?: number };
  masked: string;
}

/**
 * What an incident keeps of its diagnosis: what its line and its group show. The rest (evidence,
 * causes, checks, fixes: 4-9 KB of JSON an entry) is the knowledge base's, looked up by id.
 */
export type IncidentDiagnosis = Pick<Diagnosis, 'id' | 'title' | 'direction' | 'confidence' | 'cause'>;

/** An incident: a candidate that is failing, or that the knowledge base recognises. */
export interface Incident extends Candidate {
  message: string;
  diagnosis?: IncidentDiagnosis;
  /** Other diagnoses that fit, by id, best first. */
  also: string[];
  facts: Facts;
  /** The headline with numbers, ids, times and hosts masked: what unknown incidents are grouped by. */
  masked: string;
}
