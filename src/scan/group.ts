// Groups incidents as they come, in memory bounded by the number of groups: diagnosed incidents
// by diagnosis id and by integration flow or host, unknown ones by their masked message.
import type { Incident, Place } from './incident.js';

/** Unknown messages tracked one by one; beyond this, they share one "other" group. */
const MAX_UNKNOWN_GROUPS = 10_000;
export const OTHER_UNKNOWN = '(other unknown messages)';

export interface Seen {
  time: string;
  at?: number;
}

export interface Group {
  /** The diagnosis id; absent for unknown incidents. */
  id?: string;
  title?: string;
  /** The cause the diagnoses named, when they named one; a group holds one cause. */
  cause?: { id: string; title: string };
  iflow?: string;
  host?: string;
  /** Unknown incidents: the masked message they share. */
  message?: string;
  count: number;
  first?: Seen;
  last?: Seen;
  example: { place: Place; message: string; messageGuid?: string };
  /** The highest confidence among the group's diagnoses. */
  confidence?: number;
}

export class Grouper {
  private readonly known = new Map<string, Group>();
  private readonly unknown = new Map<string, Group>();
  incidents = 0;

  add(inc: Incident): void {
    this.incidents++;
    const d = inc.diagnosis;
    const host = inc.facts.host ?? inc.host;
    let group: Group | undefined;
    if (d) {
      const key = `${d.id}\0${d.cause?.id ?? ''}\0${inc.iflow ?? ''}\0${inc.iflow ? '' : (host ?? '')}`;
      group = this.known.get(key);
      if (!group) {
        group = this.fresh(inc, {
          id: d.id,
          title: d.title,
          ...(d.cause ? { cause: d.cause } : {}),
          ...(inc.iflow ? { iflow: inc.iflow } : host ? { host } : {}),
        });
        this.known.set(key, group);
      }
      group.confidence = Math.max(group.confidence ?? 0, d.confidence);
    } else {
      const key =
        this.unknown.has(inc.masked) || this.unknown.size < MAX_UNKNOWN_GROUPS ? inc.masked : OTHER_UNKNOWN;
      group = this.unknown.get(key);
      if (!group) this.unknown.set(key, (group = this.fresh(inc, { message: key })));
    }
    group.count++;
    if (inc.time) this.seen(group, { time: inc.time, ...(inc.at !== undefined ? { at: inc.at } : {}) });
  }

  private fresh(inc: Incident, fields: Partial<Group>): Group {
    return {
      ...fields,
      count: 0,
      example: {
        place: inc.place,
        message: inc.message,
        ...(inc.messageGuid ? { messageGuid: inc.messageGuid } : {}),
      },
    };
  }

  /** First and last by time when times can be compared, else in the order of the input. */
  private seen(g: Group, s: Seen): void {
    const before = (a: Seen, b: Seen) => a.at !== undefined && b.at !== undefined && a.at < b.at;
    if (!g.first || before(s, g.first)) g.first = s;
    if (!g.last || !before(s, g.last)) g.last = s;
  }

  /** Diagnosed groups, then unknown ones, each most frequent first. */
  groups(): { known: Group[]; unknown: Group[] } {
    const order = (a: Group, b: Group) => b.count - a.count;
    return { known: [...this.known.values()].sort(order), unknown: [...this.unknown.values()].sort(order) };
  }
}
