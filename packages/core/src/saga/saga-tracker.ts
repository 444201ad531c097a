import { BackgroundLoop } from '../service/background-loop.js';
import { setBounded } from '../bounded-map.js';
import { defaultBackoff } from '../backoff.js';
import { headerNames, readEnvelope } from '../messaging/envelope.js';
import { invalidArgument } from '../errors.js';
import type { EventSerde } from '../messaging/event-serde.js';
import type { MessageSubscriber, ReceivedMessage, Subscription } from '../messaging/message-bus.js';
import { eventRoles, type SagaDefinition } from './saga.js';
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
import type { SagaViewStore } from './saga-view-store.js';
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

/** Sagas whose compensation request (or its absence) the tracker remembers. */
const REQUESTS_REMEMBERED = 10_000;

const scalar = (value: unknown): value is string | number | boolean | null =>
  value === null || ['string', 'number', 'boolean'].includes(typeof value);

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
  readonly #stuckLoop: BackgroundLoop;
  #subscription: Subscription | undefined;
  /** The work in hand per saga: events of one saga are recorded one after the other. */
  readonly #inHand = new Map<string, Promise<void>>();
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
    this.#tracked = new Set(options.definitions.flatMap((d) => [...eventRoles(d).keys()]));
    this.#stuckLoop = new BackgroundLoop(async () => (await this.checkDeadlines()) > 0, {
      idleMs: options.stuckCheckIntervalMs ?? 1000,
      backoff: defaultBackoff,
      onError: options.onError ?? (() => {}),
    });
  }

  get groupId(): string {
    return this.#groupId;
  }

  /** The topics the tracker reads: those of its sagas and the saga control topic. */
  topics(): string[] {
    return [
      ...new Set([
        ...this.#options.definitions.flatMap((d) => d.topics),
        ...(this.#options.workflowTopics ?? []),
        sagaControlTopic,
      ]),
    ];
  }

  async start(): Promise<void> {
    await this.#options.views.prepare();
    this.#subscription = await this.#options.subscriber.subscribe(
      // Events of other entities side by side: a saga's timeline takes events in any order.
      { groupId: this.#groupId, topics: this.topics(), start: 'earliest', ordering: 'key' },
      (message) => this.#inOrder(message),
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
   * Records events of one saga one at a time (they come from several partitions): concurrent
   * writers of one view in this process would only make each other read again.
   */
  async #inOrder(message: ReceivedMessage): Promise<void> {
    const sagaId = message.headers[headerNames.sagaId];
    if (sagaId === undefined) return this.#record(message);
    const before = this.#inHand.get(sagaId) ?? Promise.resolve();
    const mine = before.then(() => this.#record(message));
    const settled = mine.catch(() => {});
    this.#inHand.set(sagaId, settled);
    void settled.then(() => {
      if (this.#inHand.get(sagaId) === settled) this.#inHand.delete(sagaId);
    });
    return mine;
  }

  async #record(message: ReceivedMessage): Promise<void> {
    let envelope;
    try {
      envelope = readEnvelope(message.headers);
    } catch {
      return; // Not a sagaflow event: nothing to track.
    }
    const workflows = this.#options.workflowTopics !== undefined;
    if (!this.#tracked.has(envelope.type) && !(workflows && isWorkflowEvent(envelope))) return;
    const keyFields: Record<string, string | number | boolean | null> = {};
    if (message.value !== null) {
      // An observer never blocks a partition: an unreadable payload is tracked without its fields.
      const payload = await this.#options.serde
        .decode(envelope.type, message.value)
        .catch(() => ({}));
      for (const [field, value] of Object.entries(payload))
        if (scalar(value)) keyFields[field] = value;
    }
    const entry: TimelineEntry = {
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
    };
    const { recorded, entries } = await this.#options.views.recordEntry(envelope.sagaId, entry);
    const view = await this.refresh(envelope.sagaId, entries);
    if (recorded) {
      const lagMs = this.#clock().getTime() - Date.parse(entry.occurredAt);
      if (Number.isFinite(lagMs)) this.#options.metrics?.eventTracked?.(Math.max(0, lagMs) / 1000);
    }
    if (
      recorded &&
      view !== undefined &&
      isEnded(view.status) &&
      view.endedAt === entry.occurredAt &&
      this.#options.metrics !== undefined
    ) {
      const seconds = (Date.parse(view.endedAt) - Date.parse(view.startedAt)) / 1000;
      this.#options.metrics.sagaEnded(
        { type: view.type ?? 'unknown', status: view.status },
        Math.max(0, seconds),
      );
    }
  }

  /**
   * Rewrites a saga's view from its timeline (read now, unless the caller has just read it) and
   * its compensation request, until they stop changing under it, so that concurrent writers end
   * on the view of the full timeline.
   */
  async refresh(sagaId: string, known?: readonly TimelineEntry[]): Promise<SagaView | undefined> {
    const { views, definitions } = this.#options;
    let entries = known ?? (await views.entries(sagaId));
    if (entries.length === 0) return undefined;
    const remembered = this.#requests.get(sagaId);
    let request =
      remembered === undefined
        ? await views.compensationRequest(sagaId)
        : (remembered ?? undefined);
    for (;;) {
      const view = deriveSagaView(definitions, sagaId, entries, {
        now: this.#clock().toISOString(),
        ...(request === undefined ? {} : { compensationRequest: request }),
      });
      await views.writeView(view);
      // Timelines only grow and a request is set once, so equal sizes mean nothing changed.
      const [after, afterRequest] = await Promise.all([
        views.entries(sagaId),
        views.compensationRequest(sagaId),
      ]);
      setBounded(this.#requests, sagaId, afterRequest ?? null, REQUESTS_REMEMBERED);
      if (
        after.length === entries.length &&
        (afterRequest === undefined) === (request === undefined)
      ) {
        return view;
      }
      entries = after;
      request = afterRequest;
    }
  }

  /**
   * Marks overdue sagas stuck, and asks for their compensation when their definition says so;
   * returns how many changed.
   */
  async checkDeadlines(): Promise<number> {
    const overdue = await this.#options.views.overdue(this.#clock().toISOString(), 100);
    let changed = 0;
    for (const view of overdue) {
      const fresh = await this.refresh(view.sagaId);
      if (fresh === undefined || fresh.status === view.status) continue;
      changed += 1;
      const definition = this.#options.definitions.find((d) => d.type === fresh.type);
      if (fresh.status === 'stuck' && definition?.onStuck === 'compensate') {
        const step = fresh.steps.find((s) => s.name === fresh.currentStep);
        await this.requestCompensation(fresh.sagaId, {
          at: this.#clock().toISOString(),
          by: this.#groupId,
          reason: `no answer from ${step?.participant ?? 'a participant'} for ${fresh.currentStep ?? 'a step'} by ${fresh.deadlineAt ?? 'its deadline'}`,
        });
      }
    }
    return changed;
  }

  /**
   * Records a request to compensate a saga (the first one counts), shows it in the view, and asks
   * the participants to undo the completed steps, last first. Safe to call again.
   */
  async requestCompensation(
    sagaId: string,
    request: CompensationRequest,
  ): Promise<SagaView | undefined> {
    await this.#options.views.requestCompensation(sagaId, request);
    this.#requests.delete(sagaId);
    const view = await this.refresh(sagaId);
    const definition = this.#options.definitions.find((d) => d.type === view?.type);
    const publish = this.#options.publishCompensation;
    if (view === undefined || definition === undefined || publish === undefined) return view;
    const recorded = view.compensationRequest ?? request;
    const steps: CompletedStep[] = [];
    for (const step of [...definition.steps].reverse()) {
      if (view.steps.find((s) => s.name === step.name)?.status !== 'done') continue;
      const success = view.timeline.find((e) => step.success.includes(e.type));
      if (success === undefined) continue;
      steps.push({
        step: step.name,
        participant: step.participant,
        entityType: success.entityType,
        entityId: success.entityId,
      });
    }
    await publish({
      sagaId,
      sagaType: definition.type,
      businessKey: view.businessKey ?? '',
      reason: recorded.reason,
      requestedBy: recorded.by,
      requestedAt: recorded.at,
      steps,
    });
    return view;
  }
}
