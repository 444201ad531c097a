import { eventsTopic } from '../messaging/envelope.js';
import type { TimelineEntry } from './saga-view.js';

/** The event type that says a consumer group holds a message of a saga back (it waits). */
export const SAGA_MESSAGE_WAITING = 'SagaMessageWaiting';
/** The event type that says the held message no longer waits. */
export const SAGA_MESSAGE_RESUMED = 'SagaMessageResumed';
/** The event types of saga notices. */
export const sagaNoticeTypes: readonly string[] = [SAGA_MESSAGE_WAITING, SAGA_MESSAGE_RESUMED];

/** The entity type that saga notices are published as (their `entityId` is the saga id). */
export const sagaNoticeEntityType = 'sagaflow.saga-notice';

/**
 * The topic of saga notices: what a processor tells of a message of a saga that it holds back,
 * for the admin's tracker. Every service that consumes creates it; only the tracker reads it.
 */
export const sagaNoticeTopic = eventsTopic(sagaNoticeEntityType);

/** Payload of `SagaMessageWaiting`. */
export interface SagaMessageWaiting {
  readonly sagaId: string;
  /** The consumer group that holds the message back. */
  readonly group: string;
  /** What it waits for: `UNKNOWN_WORKFLOW` (a version not deployed), `SERDE_FAILED` (the registry). */
  readonly code: string;
  readonly reason: string;
  readonly messageType: string;
  /** When the message started to wait. */
  readonly since: string;
}

/** Payload of `SagaMessageResumed`. */
export interface SagaMessageResumed {
  readonly sagaId: string;
  readonly group: string;
  /** `handled`, or `dead-lettered` (an error that cannot pass came after the wait). */
  readonly outcome: 'handled' | 'dead-lettered';
}

/** What a saga's message waits for, as its view shows it. */
export interface SagaWaiting {
  readonly group: string;
  readonly code: string;
  readonly reason: string;
  readonly messageType: string;
  readonly since: string;
  /** The service whose consumer group holds the message back. */
  readonly service: string;
}

const text = (entry: TimelineEntry, field: string) => {
  const value = entry.keyFields[field];
  return typeof value === 'string' ? value : '';
};

/**
 * What a saga waits for, from its (sorted) timeline: the latest `SagaMessageWaiting` that no
 * `SagaMessageResumed` of its group followed, and no other event of the saga either (the saga
 * moved on: a process that died while it waited tells nothing more).
 */
export function waitingOf(timeline: readonly TimelineEntry[]): SagaWaiting | undefined {
  let waiting: SagaWaiting | undefined;
  for (const entry of timeline) {
    if (entry.type === SAGA_MESSAGE_WAITING) {
      waiting = {
        group: text(entry, 'group'),
        code: text(entry, 'code'),
        reason: text(entry, 'reason'),
        messageType: text(entry, 'messageType'),
        since: text(entry, 'since') || entry.occurredAt,
        service: entry.participant,
      };
    } else if (entry.type === SAGA_MESSAGE_RESUMED) {
      if (waiting?.group === text(entry, 'group')) waiting = undefined;
    } else {
      waiting = undefined;
    }
  }
  return waiting;
}
