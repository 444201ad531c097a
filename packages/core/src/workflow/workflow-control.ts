import { commandMessage } from '../entity/command-message.js';
import { invalidArgument } from '../errors.js';
import type { EventSerde } from '../messaging/event-serde.js';
import { newId } from '../ids.js';
import type { MessagePublisher } from '../messaging/message-bus.js';
import type { OperatorRequest } from './orchestrator.js';
import { checkSignalKey } from './workflow.js';

/** Options of {@link WorkflowControl}. */
export interface WorkflowControlOptions {
  readonly publisher: MessagePublisher;
  /** Encodes `RetryWorkflow`, `CancelWorkflow` and `SignalWorkflow` (the control schemas). */
  readonly serde: EventSerde;
  /** The sending service, stamped on the commands, e.g. `admin-service`. */
  readonly service: string;
}

/**
 * Sends operator commands to workflows through their entity's command topic, from any process
 * (the admin service): the orchestrator applies each once and answers with the workflow's events,
 * or with `CommandRejected` when the workflow is not in a state to take it.
 */
export class WorkflowControl {
  readonly #options: WorkflowControlOptions;

  constructor(options: WorkflowControlOptions) {
    if (typeof options.service !== 'string' || options.service.trim() === '') {
      throw invalidArgument('service', 'must be a non-empty string');
    }
    this.#options = options;
  }

  /** Asks a failed workflow to run its failed step again; returns the command id. */
  retry(target: WorkflowTarget, request: OperatorRequest): Promise<string> {
    return this.#send(target, 'RetryWorkflow', {
      requestedBy: request.requestedBy,
      reason: request.reason,
    });
  }

  /** Asks a running workflow to compensate; returns the command id. */
  cancel(target: WorkflowTarget, request: OperatorRequest): Promise<string> {
    return this.#send(target, 'CancelWorkflow', {
      requestedBy: request.requestedBy,
      reason: request.reason,
    });
  }

  /**
   * Sends a signal to a workflow (see `Orchestrator.signal`); returns the command id, which an
   * idempotency key makes the same for every send with that key (the workflow takes it once).
   */
  signal(
    target: WorkflowTarget,
    signal: {
      readonly name: string;
      readonly payload: unknown;
      readonly requestedBy: string;
      readonly idempotencyKey?: string;
    },
  ): Promise<string> {
    const key = signal.idempotencyKey;
    checkSignalKey(key);
    return this.#send(
      target,
      'SignalWorkflow',
      {
        name: signal.name,
        payload: JSON.stringify(signal.payload ?? null),
        requestedBy: signal.requestedBy,
        key: key ?? '',
      },
      key === undefined ? undefined : `signal-${key}`,
    );
  }

  async #send(
    target: WorkflowTarget,
    type: 'RetryWorkflow' | 'CancelWorkflow' | 'SignalWorkflow',
    payload: Readonly<Record<string, string>>,
    id?: string,
  ): Promise<string> {
    const commandId = id ?? `operator-${newId()}`;
    const encoded = await this.#options.serde.encode(type, payload);
    await this.#options.publisher.publish([
      commandMessage(
        {
          commandId,
          type,
          entityType: target.entityType,
          entityId: target.workflowId,
          sagaId: target.workflowId,
          service: this.#options.service,
          occurredAt: new Date().toISOString(),
        },
        encoded.value,
        encoded.schema,
      ),
    ]);
    return commandId;
  }
}

/** A workflow instance: its id and the entity type that holds it. */
export interface WorkflowTarget {
  readonly workflowId: string;
  readonly entityType: string;
}
