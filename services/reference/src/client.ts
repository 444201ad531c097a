import type { ServiceName } from '@sagaflow/reference-contracts';

/** An order as `GET /orders/:id` shows it. */
export interface OrderView {
  readonly orderId: string;
  readonly status: 'PENDING' | 'AWAITING_APPROVAL' | 'APPROVED' | 'REJECTED';
  readonly rejectionReason?: string;
  /** The decision on an order that waited for approval. */
  readonly approval?: { readonly approved: boolean; readonly by: string };
  readonly total: number;
  readonly sagaId: string;
  readonly customerId: string;
  readonly items: readonly { sku: string; quantity: number; unitPrice: number }[];
  readonly mode: 'choreography' | 'orchestration';
}

export interface NewOrder {
  readonly customerId: string;
  readonly items: readonly { sku: string; quantity: number; unitPrice: number }[];
  readonly mode: 'choreography' | 'orchestration';
}

/** An HTTP answer that was not the expected one. */
export class HttpStatusError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    what: string,
  ) {
    super(`${what} answered ${status}: ${JSON.stringify(body)}`);
  }
}

/** Talks to the reference services over their HTTP contract. */
export class ReferenceClient {
  constructor(readonly urls: Readonly<Record<ServiceName, string>>) {}

  async #call(service: ServiceName, path: string, init: RequestInit = {}, ok = [200, 202]) {
    const response = await fetch(`${this.urls[service]}${path}`, {
      ...init,
      headers: { 'content-type': 'application/json', ...(init.headers as Record<string, string>) },
      signal: AbortSignal.timeout(10_000),
    });
    const text = await response.text();
    const body: unknown = text === '' ? undefined : JSON.parse(text);
    if (!ok.includes(response.status)) {
      throw new HttpStatusError(response.status, body, `${init.method ?? 'GET'} ${service}${path}`);
    }
    return { status: response.status, body };
  }

  async placeOrder(order: NewOrder, idempotencyKey?: string) {
    const { status, body } = await this.#call('order', '/orders', {
      method: 'POST',
      body: JSON.stringify(order),
      ...(idempotencyKey === undefined ? {} : { headers: { 'idempotency-key': idempotencyKey } }),
    });
    return { status, ...(body as { orderId: string; sagaId: string }) };
  }

  /** Approves or refuses an order that waits for approval (`POST /orders/:id/approval`). */
  async decideApproval(orderId: string, decision: { approved: boolean; by: string }) {
    const { status } = await this.#call(
      'order',
      `/orders/${encodeURIComponent(orderId)}/approval`,
      { method: 'POST', body: JSON.stringify(decision) },
      [202],
    );
    return status;
  }

  async order(orderId: string): Promise<OrderView> {
    return (await this.#call('order', `/orders/${encodeURIComponent(orderId)}`)).body as OrderView;
  }

  async setStock(sku: string, available: number) {
    await this.#call('inventory', `/stock/${encodeURIComponent(sku)}`, {
      method: 'PUT',
      body: JSON.stringify({ available }),
    });
  }

  async stock(sku: string) {
    return (await this.#call('inventory', `/stock/${encodeURIComponent(sku)}`)).body as {
      sku: string;
      available: number;
      reserved: number;
    };
  }

  async setCredit(customerId: string, creditLimit: number) {
    await this.#call('payment', `/customers/${encodeURIComponent(customerId)}`, {
      method: 'PUT',
      body: JSON.stringify({ creditLimit }),
    });
  }

  async customer(customerId: string) {
    return (await this.#call('payment', `/customers/${encodeURIComponent(customerId)}`)).body as {
      customerId: string;
      creditLimit: number;
      creditReserved: number;
    };
  }

  async shipments(orderId: string) {
    return (await this.#call('shipping', `/shipments?orderId=${encodeURIComponent(orderId)}`))
      .body as { shipmentId: string; orderId: string }[];
  }

  /** Whether every service (and each of the further base URLs given) answers `/readyz`. */
  async ready(more: readonly string[] = []): Promise<boolean> {
    return (await this.unready(more)).length === 0;
  }

  /**
   * The services (and further base URLs) that do not answer `/readyz` with 200 within 2 s, each
   * with what it reports, e.g. `orchestrator: 503 {"ready":false,…}`; empty when all are ready.
   */
  async unready(more: readonly string[] = []): Promise<string[]> {
    const targets: [string, string][] = [
      ...Object.entries(this.urls),
      ...more.map((u) => [u, u] as [string, string]),
    ];
    const answers = await Promise.all(
      targets.map(async ([name, url]) => {
        try {
          const response = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2000) });
          if (response.ok) return undefined;
          return `${name}: ${response.status} ${await response.text()}`;
        } catch (error) {
          return `${name}: ${error instanceof Error ? error.message : String(error)}`;
        }
      }),
    );
    return answers.filter((a): a is string => a !== undefined);
  }
}
