import { BackgroundLoop } from '../service/background-loop.js';
import { setBounded } from '../bounded-map.js';
import { defaultBackoff } from '../backoff.js';
import { readEnvelope } from '../messaging/envelope.js';
import { invalidArgument, isSagaflowError, SagaflowError } from '../errors.js';
import type { EventSerde } from '../messaging/event-serde.js';
import type {
  MessageSubscriber,
  ReceivedMessage,
  Subscription,
  TopicAdmin,
} from '../messaging/message-bus.js';
import { eventRoles, type SagaDefinition } from './saga.js';
import { sagaNoticeTopic, sagaNoticeTypes } from './saga-notice.js';
import {
  sagaControlTopic,
  type CompletedStep,
  type SagaCompensationRequested,
} from './saga-control.js';
import {
  deriveSagaView,
  isEnded,
  type CompensationRequest,
  type SagaView,
  type TimelineEntry,
} from './saga-view.js';
import type { SagaEntry, SagaViewStore } from './saga-view-store.js';
import { isWorkflowEvent } from '../workflow/workflow-view.js';

/** Options of {@link SagaTracker}. */
export interface SagaTrackerOptions {
  /** Consumer group of the tracker. @default 'sagaflow-tracker' */
  readonly groupId?: string;
  /** Choreography sagas to follow. */
  readonly definitions: readonly SagaDefinition[];
  /**
   * Topics of orchestrated workflows to follow: the workflow entity's events and its
   * participants' (see {@link workflowTopics}). @default none
   */
  readonly workflowTopics?: readonly string[];
  readonly subscriber: MessageSubscriber;
  readonly serde: EventSerde;
  readonly views: SagaViewStore;
  /** How often overdue sagas are looked for. @default 1000 */
  readonly stuckCheckIntervalMs?: number;
  /** Clock, for tests. @default () => new Date() */
  readonly clock?: () => Date;
  readonly onError?: (error: unknown) => void;
  /** Told when a saga ends, with its duration (see `PrometheusMetrics.sagaEnded`). @default none */
  readonly metrics?: SagaMetrics;
  /**
   * Publishes a compensation request to the participants, e.g. by executing
   * `RequestCompensation` on the {@link sagaControl} entity of a service (its outbox publishes it
   * exactly once). Without it, a request is only recorded and shown. @default none
   */
  readonly publishCompensation?: (request: SagaCompensationRequested) => Promise<void>;
}

/** Port: the tracker's saga figures. */
export interface SagaMetrics {
  /** A saga reached an ending status (once, when the event that ended it is recorded). */
  sagaEnded(labels: { readonly type: string; readonly status: string }, seconds: number): void;
  /**
   * An event was recorded and its saga's view rewritten, `seconds` after the event occurred: how
   * far behind the tracker (and so the admin) is. @default not told
   */
  eventTracked?(seconds: number): void;
}

/** Events recorded in one batch at most. */
const BATCH_LIMIT = 500;

/** Sagas whose compensation request (or its absence) the tracker remembers. */
const REQUESTS_REMEMBERED = 10_000;

const scalar = (value: unknown): value is string | number | boolean | null =>
  value === null || ['string', 'number', 'boolean'].includes(typeof value);

/** A step as a compensation request lists it: the entity that did it, from its success event. */
const completedStep = (
  step: SagaDefinition['steps'][number],
  success: Pick<TimelineEntry, 'entityType' | 'entityId'>,
): CompletedStep => ({
  step: step.name,
  participant: step.participant,
  entityType: success.entityType,
  entityId: success.entityId,
});

/** The event that asks a saga's participants to undo the given steps. */
const compensationRequest = (
  definition: SagaDefinition,
  view: SagaView,
  request: CompensationRequest,
  steps: readonly CompletedStep[],
): SagaCompensationRequested => ({
  sagaId: view.sagaId,
  sagaType: definition.type,
  businessKey: view.businessKey ?? '',
  reason: request.reason,
  requestedBy: request.by,
  requestedAt: request.at,
  steps,
});

/**
 * Follows every saga of the given definitions: a consumer group on their topics records each
 * event in the saga's timeline (once per event id) and rewrites the saga's view from the whole
 * timeline, so duplicates and events arriving out of order across topics change nothing, and a
 * tracker rebuilt from the topics arrives at the same views. Deadlines live in the stored views:
 * the tracker's clock marks overdue sagas stuck, also after a restart.
 */
export class SagaTracker {
  readonly #options: SagaTrackerOptions;
  readonly #groupId: string;
  readonly #clock: () => Date;
  readonly #tracked: ReadonlySet<string>;
  /** The event types that complete a step. */
  readonly #successes: ReadonlySet<string>;
  readonly #stuckLoop: BackgroundLoop;
  #subscription: Subscription | undefined;
  /** Events handed in and not recorded yet, with their handlers' settlement. */
  readonly #pending: {
    readonly message: ReceivedMessage;
    readonly resolve: () => void;
    readonly reject: (error: unknown) => void;
  }[] = [];
  /** Whether a batch is being recorded (the next one starts when it is done). */
  #draining = false;
  /**
   * What the last fresh read found of each recent saga's compensation request (`null`: none), so
   * that a refresh starts from it; every refresh still reads it afresh before it returns.
   */
  readonly #requests = new Map<string, CompensationRequest | null>();

  constructor(options: SagaTrackerOptions) {
    if (options.definitions.length === 0 && (options.workflowTopics ?? []).length === 0)
      throw invalidArgument('definitions', 'must hold at least one saga (or give workflowTopics)');
    this.#options = options;
    this.#groupId = options.groupId ?? 'sagaflow-tracker';
    this.#clock = options.clock ?? (() => new Date());
    this.#tracked = new Set([
      ...options.definitions.flatMap((d) => [...eventRoles(d).keys()]),
      ...sagaNoticeTypes,
    ]);
    this.#successes = new Set(
      options.definitions.flatMap((d) => d.steps.flatMap((s) => s.success)),
    );
    this.#stuckLoop = new BackgroundLoop(async () => (await this.checkDeadlines()) > 0, {
      idleMs: options.stuckCheckIntervalMs ?? 1000,
      backoff: defaultBackoff,
      onError: options.onError ?? (() => {}),
    });
  }

  get groupId(): string {
    return this.#groupId;
  }

  /** The topics the tracker reads: those of its sagas, the saga control and notice topics. */
  topics(): string[] {
    return [
      ...new Set([
        ...this.#options.definitions.flatMap((d) => d.topics),
        ...(this.#options.workflowTopics ?? []),
        sagaControlTopic,
        sagaNoticeTopic,
      ]),
    ];
  }

  async start(): Promise<void> {
    await this.#options.views.prepare();
    // The framework's own topics may not exist yet (no service has asked for a compensation or
    // told of a waiting message): a consumer group cannot read a topic that is not there.
    const { subscriber } = this.#options;
    if ('ensureTopics' in subscriber) {
      await (subscriber as MessageSubscriber & TopicAdmin).ensureTopics(
        [sagaControlTopic, sagaNoticeTopic].map((topic) => ({ topic, partitions: 3 })),
      );
    }
    this.#subscription = await this.#options.subscriber.subscribe(
      // Events of other entities side by side: a saga's timeline takes events in any order.
      { groupId: this.#groupId, topics: this.topics(), start: 'earliest', ordering: 'key' },
      (message) => this.#track(message),
    );
    await this.#subscription.ready;
    this.#stuckLoop.start();
  }

  async stop(): Promise<void> {
    await this.#stuckLoop.stop();
    await this.#subscription?.stop();
    this.#subscription = undefined;
  }

  /**
   * Records the event with those that arrive while a batch is being recorded (the bus hands the
   * tracker many keys at once): one batch at a time, so events of one saga are never recorded
   * side by side in this process, and each batch costs a few writes whatever its size. Resolves
   * once the event's saga view is written.
   */
  #track(message: ReceivedMessage): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#pending.push({ message, resolve, reject });
      if (this.#draining) return;
      this.#draining = true;
      // After the current turn, so that the messages handed in together form one batch.
      setImmediate(() => void this.#drain());
    });
  }

  async #drain(): Promise<void> {
    while (this.#pending.length > 0) {
      const batch = this.#pending.splice(0, BATCH_LIMIT);
      try {
        await this.#recordBatch(batch.map((p) => p.message));
        for (const p of batch) p.resolve();
      } catch (error) {
        for (const p of batch) p.reject(error);
      }
    }
    this.#draining = false;
  }

  /** The timeline entry an event makes, or undefined for one the tracker does not follow. */
  async #entryOf(message: ReceivedMessage): Promise<SagaEntry | undefined> {
    let envelope;
    try {
      envelope = readEnvelope(message.headers);
    } catch {
      return undefined; // Not a sagaflow event: nothing to track.
    }
    const workflows = this.#options.workflowTopics !== undefined;
    if (!this.#tracked.has(envelope.type) && !(workflows && isWorkflowEvent(envelope))) {
      return undefined;
    }
    const keyFields: Record<string, string | number | boolean | null> = {};
    if (message.value !== null) {
      // An observer never blocks a partition on a payload that cannot be read: it is tracked
      // without its fields. A registry that does not answer is waited out (the handler fails, the
      // event comes again): an entry is never rewritten, so one recorded without its fields would
      // keep the view without its business key for good.
      const payload = await this.#options.serde
        .decode(envelope.type, message.value)
        .catch((error: unknown) => {
          if (error instanceof SagaflowError && error.retriable) throw error;
          return {};
        });
      // The admin shows these: fields the schema marks sensitive are redacted, as in the logs.
      const shown = this.#options.serde.redact?.(envelope.type, payload) ?? payload;
      for (const [field, value] of Object.entries(shown))
        if (scalar(value)) keyFields[field] = value;
    }
    return {
      sagaId: envelope.sagaId,
      entry: {
        eventId: envelope.eventId,
        type: envelope.type,
        participant: envelope.service,
        entityType: envelope.entityType,
        entityId: envelope.entityId,
        topic: message.topic,
        partition: message.partition,
        offset: message.offset,
        occurredAt: envelope.occurredAt,
        keyFields,
      },
    };
  }

  async #recordBatch(messages: readonly ReceivedMessage[]): Promise<void> {
    const entries = (await Promise.all(messages.map((m) => this.#entryOf(m)))).filter(
      (item) => item !== undefined,
    );
    const items = await this.#withoutStrangeNotices(entries);
    if (items.length === 0) return;
    // Asked for before the event is recorded: a process that dies in between asks again.
    await this.#compensateLateSteps(items);
    const recorded = await this.#options.views.recordEntries(items);
    const views = await this.#refreshAll(
      new Map([...recorded].map(([sagaId, r]) => [sagaId, r.entries])),
    );
    const metrics = this.#options.metrics;
    if (metrics === undefined) return;
    const now = this.#clock().getTime();
    for (const { sagaId, entry } of items) {
      if (!(recorded.get(sagaId)?.recorded.includes(entry.eventId) ?? false)) continue;
      const lagMs = now - Date.parse(entry.occurredAt);
      if (Number.isFinite(lagMs)) metrics.eventTracked?.(Math.max(0, lagMs) / 1000);
      const view = views.get(sagaId);
      if (view !== undefined && isEnded(view.status) && view.endedAt === entry.occurredAt) {
        const seconds = (Date.parse(view.endedAt) - Date.parse(view.startedAt)) / 1000;
        metrics.sagaEnded(
          { type: view.type ?? 'unknown', status: view.status },
          Math.max(0, seconds),
        );
      }
    }
  }

  /**
   * Saga notices only of sagas this tracker follows: the notice topic is shared by every service
   * that consumes, whatever sagas it takes part in (a notice comes long after its saga started).
   */
  async #withoutStrangeNotices(items: readonly SagaEntry[]): Promise<SagaEntry[]> {
    const noticed = [
      ...new Set(items.filter((i) => sagaNoticeTypes.includes(i.entry.type)).map((i) => i.sagaId)),
    ];
    if (noticed.length === 0) return [...items];
    const known = new Set<string>();
    for (const sagaId of noticed) {
      if ((await this.#options.views.view(sagaId)) !== undefined) known.add(sagaId);
    }
    return items.filter((i) => !sagaNoticeTypes.includes(i.entry.type) || known.has(i.sagaId));
  }

  /**
   * Asks for the compensation of a step that completed after its saga's compensation was asked
   * for (it was in flight then, so the request did not list it): the publisher's saga control
   * publishes a step once, so asking again changes nothing. Not for a saga that completed.
   */
  async #compensateLateSteps(items: readonly SagaEntry[]): Promise<void> {
    const publish = this.#options.publishCompensation;
    const completing = items.filter(({ entry }) => this.#successes.has(entry.type));
    if (publish === undefined || completing.length === 0) return;
    const requests = await this.#requestsOf([...new Set(completing.map((i) => i.sagaId))]);
    for (const { sagaId, entry } of completing) {
      const request = requests.get(sagaId);
      if (request === undefined) continue;
      const view = await this.#options.views.view(sagaId);
      const definition = this.#options.definitions.find((d) => d.type === view?.type);
      const step = definition?.steps.find((s) => s.success.includes(entry.type));
      if (view === undefined || definition === undefined || step === undefined) continue;
      if (view.status === 'completed') continue;
      await publish(compensationRequest(definition, view, request, [completedStep(step, entry)]));
    }
  }

  /**
   * Rewrites a saga's view from its timeline (read now, unless the caller has just read it) and
   * its compensation request, until they stop changing under it, so that concurrent writers end
   * on the view of the full timeline.
   */
  async refresh(sagaId: string, known?: readonly TimelineEntry[]): Promise<SagaView | undefined> {
    const entries = known ?? (await this.#options.views.entries(sagaId));
    if (entries.length === 0) return undefined;
    return (await this.#refreshAll(new Map([[sagaId, entries]]))).get(sagaId);
  }

  /**
   * {@link refresh} of several sagas, each kind of read and write of them all at once: views are
   * written, then each saga's timeline and request read again; those that changed meanwhile (a
   * writer in another process) are written again.
   */
  async #refreshAll(
    known: ReadonlyMap<string, readonly TimelineEntry[]>,
  ): Promise<Map<string, SagaView>> {
    const { views, definitions } = this.#options;
    const written = new Map<string, SagaView>();
    let pending = new Map([...known].filter(([, entries]) => entries.length > 0));
    let requests = await this.#requestsOf([...pending.keys()]);
    while (pending.size > 0) {
      const now = this.#clock().toISOString();
      const derived = [...pending].map(([sagaId, entries]) => {
        const request = requests.get(sagaId);
        return deriveSagaView(definitions, sagaId, entries, {
          now,
          ...(request === undefined ? {} : { compensationRequest: request }),
        });
      });
      await views.writeViews(derived);
      const sagaIds = [...pending.keys()];
      const [after, afterRequests] = await Promise.all([
        Promise.all(sagaIds.map((sagaId) => views.entries(sagaId))),
        views.compensationRequests(sagaIds),
      ]);
      const changed = new Map<string, readonly TimelineEntry[]>();
      sagaIds.forEach((sagaId, i) => {
        const request = afterRequests.get(sagaId);
        setBounded(this.#requests, sagaId, request ?? null, REQUESTS_REMEMBERED);
        const entries = after[i] ?? [];
        // Timelines only grow and a request is set once, so equal sizes mean nothing changed.
        const same =
          entries.length === pending.get(sagaId)?.length &&
          (request === undefined) === (requests.get(sagaId) === undefined);
        if (same) written.set(sagaId, derived[i] as SagaView);
        else changed.set(sagaId, entries);
      });
      pending = changed;
      requests = afterRequests;
    }
    return written;
  }

  /** The sagas' compensation requests: remembered ones from memory, the others read at once. */
  async #requestsOf(sagaIds: readonly string[]): Promise<ReadonlyMap<string, CompensationRequest>> {
    const found = new Map<string, CompensationRequest>();
    const unknown: string[] = [];
    for (const sagaId of sagaIds) {
      const remembered = this.#requests.get(sagaId);
      if (remembered === undefined) unknown.push(sagaId);
      else if (remembered !== null) found.set(sagaId, remembered);
    }
    if (unknown.length === 0) return found;
    const read = await this.#options.views.compensationRequests(unknown);
    // Remembered, so that the refresh after the late-step check reads a saga's request once.
    for (const sagaId of unknown) {
      const request = read.get(sagaId);
      setBounded(this.#requests, sagaId, request ?? null, REQUESTS_REMEMBERED);
      if (request !== undefined) found.set(sagaId, request);
    }
    return found;
  }

  /**
   * Marks overdue sagas stuck, and asks for their compensation when their definition says so;
   * returns how many changed. A stuck saga's compensation is published before the view that
   * clears its deadline is written: a process that dies in between leaves the saga overdue, and
   * the next round asks again (the request is recorded once and published once).
   */
  async checkDeadlines(): Promise<number> {
    const overdue = await this.#options.views.overdue(this.#clock().toISOString(), 100);
    let changed = 0;
    for (const view of overdue) {
      const definition = this.#options.definitions.find((d) => d.type === view.type);
      if (definition?.onStuck === 'compensate') {
        const fresh = await this.#derive(view.sagaId);
        if (fresh?.status === 'stuck') {
          const step = fresh.steps.find((s) => s.name === fresh.currentStep);
          try {
            await this.requestCompensation(fresh.sagaId, {
              at: this.#clock().toISOString(),
              by: this.#groupId,
              reason: `no answer from ${step?.participant ?? 'a participant'} for ${fresh.currentStep ?? 'a step'} by ${fresh.deadlineAt ?? 'its deadline'}`,
            });
            changed += 1;
            continue;
          } catch (error) {
            // It ended meanwhile: nothing to compensate, and its view is rewritten below.
            if (!isSagaflowError(error, 'SAGA_ENDED')) throw error;
          }
        }
      }
      const fresh = await this.refresh(view.sagaId);
      if (fresh !== undefined && fresh.status !== view.status) changed += 1;
    }
    return changed;
  }

  /** A saga's view as its stored timeline and request make it now, without writing it. */
  async #derive(sagaId: string): Promise<SagaView | undefined> {
    const [entries, requests] = await Promise.all([
      this.#options.views.entries(sagaId),
      this.#options.views.compensationRequests([sagaId]),
    ]);
    if (entries.length === 0) return undefined;
    const request = requests.get(sagaId);
    return deriveSagaView(this.#options.definitions, sagaId, entries, {
      now: this.#clock().toISOString(),
      ...(request === undefined ? {} : { compensationRequest: request }),
    });
  }

  /**
   * Asks the participants to undo a saga's completed steps, last first, records the request (the
   * first one counts) and shows it in the view. Safe to call again. The saga's timeline is read
   * afresh first: a saga that has ended is refused with `SAGA_ENDED`. The request is published
   * before it is recorded, so that a process that dies in between has recorded nothing that was
   * not sent: the caller's retry, or the next deadline round, asks again (the publisher is
   * expected to publish a request once, e.g. through the outbox of a {@link sagaControl} entity).
   */
  async requestCompensation(
    sagaId: string,
    request: CompensationRequest,
  ): Promise<SagaView | undefined> {
    const current = await this.#derive(sagaId);
    if (current === undefined) return undefined;
    if (isEnded(current.status)) {
      throw new SagaflowError(
        'SAGA_ENDED',
        `saga '${sagaId}' is ${current.status}: there is nothing to compensate`,
        { context: { sagaId } },
      );
    }
    const definition = this.#options.definitions.find((d) => d.type === current.type);
    const publish = this.#options.publishCompensation;
    if (definition !== undefined && publish !== undefined) {
      const recorded = current.compensationRequest ?? request;
      const steps: CompletedStep[] = [];
      for (const step of [...definition.steps].reverse()) {
        if (current.steps.find((s) => s.name === step.name)?.status !== 'done') continue;
        const success = current.timeline.find((e) => step.success.includes(e.type));
        if (success !== undefined) steps.push(completedStep(step, success));
      }
      await publish(compensationRequest(definition, current, recorded, steps));
    }
    await this.#options.views.requestCompensation(sagaId, request);
    this.#requests.delete(sagaId);
    return this.refresh(sagaId);
  }
}
