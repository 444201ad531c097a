// Generated from the .avsc files by `pnpm schemas:generate`. Do not edit.
/** The payload of the order workflow's approval signal. */
export interface ApprovalDecision {
  readonly approved: boolean;
  /** Who decided. */
  readonly by: string;
}

/** Command: approve the order. */
export interface ApproveOrder {
  readonly orderId: string;
}

/** Command: authorize the amount of an order. */
export interface AuthorizePayment {
  readonly orderId: string;
  readonly customerId: string;
  readonly amount: number;
}

/** The credit limit of a customer was set. */
export interface CustomerCreditSet {
  readonly customerId: string;
  readonly creditLimit: number;
}

/** A person approved or refused the order that waited; its workflow is told (the approval signal) and settles it. */
export interface OrderApprovalDecided {
  readonly orderId: string;
  readonly approved: boolean;
  /** Who decided. */
  readonly by: string;
}

/** The order's stock and credit are held, and it waits for a person's approval (AWAITING_APPROVAL). */
export interface OrderApprovalRequested {
  readonly orderId: string;
  readonly customerId: string;
  /** Minor units (cents). */
  readonly total: number;
}

/** Stock and payment are secured: the order is approved. */
export interface OrderApproved {
  readonly orderId: string;
  /** Whose credit the order took (empty in events of earlier releases). */
  readonly customerId: string;
  /** What the order took (empty in events of earlier releases). */
  readonly items: readonly OrderItem[];
}

/** An order was placed; starts the order saga. */
export interface OrderCreated {
  readonly orderId: string;
  readonly customerId: string;
  readonly items: readonly OrderItem[];
  /** Minor units (cents). */
  readonly total: number;
  readonly mode: SagaMode;
}

/** Input of the order-fulfillment workflow (POST /workflows/order-fulfillment, or an orchestrated order's OrderCreated): checked before the workflow starts. */
export interface OrderFulfillmentInput {
  readonly orderId: string;
  readonly customerId: string;
  readonly items: readonly OrderItem[];
  /** Minor units (cents): the sum of the items. */
  readonly total: number;
}

export interface OrderItem {
  readonly sku: string;
  readonly quantity: number;
  /** Minor units (cents). */
  readonly unitPrice: number;
}

/** The order was rejected, with the reason. A cancelled order (its saga compensated at an operator's or the tracker's request) is undone by every participant, whatever step its saga had reached. */
export interface OrderRejected {
  readonly orderId: string;
  readonly reason: string;
  readonly customerId: string;
  /** Rejected because its saga's compensation was requested while the order was pending. */
  readonly cancelled: boolean;
}

/** The amount of an order is authorized against the customer credit. */
export interface PaymentAuthorized {
  readonly orderId: string;
  readonly customerId: string;
  readonly amount: number;
  /** The items paid for. */
  readonly items: readonly OrderItem[];
}

/** The amount of an order could not be authorized. */
export interface PaymentFailed {
  readonly orderId: string;
  readonly customerId: string;
  readonly amount: number;
  readonly reason: string;
  /** The items whose reservation must be released. */
  readonly items: readonly OrderItem[];
}

/** The authorization of an order was released (compensation). */
export interface PaymentReleased {
  readonly orderId: string;
  readonly customerId: string;
  readonly amount: number;
  readonly items: readonly OrderItem[];
}

/** Command: reject the order. */
export interface RejectOrder {
  readonly orderId: string;
  readonly reason: string;
}

/** Command: release the authorization of an order (compensation). */
export interface ReleasePayment {
  readonly orderId: string;
  readonly customerId: string;
}

/** Command: release the reservation of an order. */
export interface ReleaseStock {
  readonly orderId: string;
  /** Why the reservation is released. */
  readonly reason: string;
}

/** Command: the order waits for a person's approval (a large order, held stock and credit). */
export interface RequestOrderApproval {
  readonly orderId: string;
}

/** Command: reserve the items of an order. */
export interface ReserveStock {
  readonly orderId: string;
  readonly customerId: string;
  readonly items: readonly OrderItem[];
  readonly total: number;
}

export type SagaMode = 'CHOREOGRAPHY' | 'ORCHESTRATION';

/** Command: schedule the shipment of an order. */
export interface ScheduleShipment {
  readonly orderId: string;
}

/** No shipment can be scheduled for the order. */
export interface ShipmentRefused {
  readonly orderId: string;
  readonly customerId: string;
  readonly amount: number;
  readonly items: readonly OrderItem[];
  readonly reason: string;
}

/** A shipment was scheduled for an approved order. */
export interface ShipmentScheduled {
  readonly orderId: string;
  readonly shipmentId: string;
}

/** The quantity of one SKU held for an order is available again (final for that order). */
export interface StockItemReleased {
  readonly sku: string;
  readonly orderId: string;
  readonly quantity: number;
}

/** A quantity of one SKU is held for an order. */
export interface StockItemReserved {
  readonly sku: string;
  readonly orderId: string;
  readonly quantity: number;
}

/** A SKU had not enough stock for an order: the order will not hold it (final for that order). */
export interface StockItemShort {
  readonly sku: string;
  readonly orderId: string;
  readonly requested: number;
  readonly available: number;
}

/** The reservation of an order was released (compensation). */
export interface StockReleased {
  readonly orderId: string;
  /** Why the reservation was released. */
  readonly reason: string;
}

/** The items of an order could not be reserved. */
export interface StockReservationFailed {
  readonly orderId: string;
  readonly reason: string;
}

/** A ReserveStock command arrived: the inventory processor reserves the items and answers the command (the event's causation id). */
export interface StockReservationRequested {
  readonly orderId: string;
  readonly customerId: string;
  readonly items: readonly OrderItem[];
  readonly total: number;
}

/** The items of an order are reserved. */
export interface StockReserved {
  readonly orderId: string;
  readonly customerId: string;
  readonly items: readonly OrderItem[];
  readonly total: number;
}

/** The available quantity of a SKU was set. */
export interface StockSet {
  readonly sku: string;
  readonly available: number;
}

/** Every event and command type of the catalog, by name. */
export interface SchemaTypes {
  readonly ApprovalDecision: ApprovalDecision;
  readonly ApproveOrder: ApproveOrder;
  readonly AuthorizePayment: AuthorizePayment;
  readonly CustomerCreditSet: CustomerCreditSet;
  readonly OrderApprovalDecided: OrderApprovalDecided;
  readonly OrderApprovalRequested: OrderApprovalRequested;
  readonly OrderApproved: OrderApproved;
  readonly OrderCreated: OrderCreated;
  readonly OrderFulfillmentInput: OrderFulfillmentInput;
  readonly OrderRejected: OrderRejected;
  readonly PaymentAuthorized: PaymentAuthorized;
  readonly PaymentFailed: PaymentFailed;
  readonly PaymentReleased: PaymentReleased;
  readonly RejectOrder: RejectOrder;
  readonly ReleasePayment: ReleasePayment;
  readonly ReleaseStock: ReleaseStock;
  readonly RequestOrderApproval: RequestOrderApproval;
  readonly ReserveStock: ReserveStock;
  readonly ScheduleShipment: ScheduleShipment;
  readonly ShipmentRefused: ShipmentRefused;
  readonly ShipmentScheduled: ShipmentScheduled;
  readonly StockItemReleased: StockItemReleased;
  readonly StockItemReserved: StockItemReserved;
  readonly StockItemShort: StockItemShort;
  readonly StockReleased: StockReleased;
  readonly StockReservationFailed: StockReservationFailed;
  readonly StockReservationRequested: StockReservationRequested;
  readonly StockReserved: StockReserved;
  readonly StockSet: StockSet;
}
