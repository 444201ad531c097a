import type { CreditView } from '@sagaflow/reference-contracts';

/** Reads a customer's credit view from the payment service (`GET /customers/:id`). */
export async function readCreditOver(paymentUrl: string, customerId: string): Promise<CreditView> {
  const response = await fetch(`${paymentUrl}/customers/${encodeURIComponent(customerId)}`, {
    signal: AbortSignal.timeout(5000),
  });
  if (response.status === 404)
    return { customerId, known: false, creditLimit: 0, creditReserved: 0 };
  if (!response.ok)
    throw new Error(`the payment service answered ${response.status} for a customer's credit`);
  const body = (await response.json()) as { creditLimit: number; creditReserved: number };
  return {
    customerId,
    known: true,
    creditLimit: body.creditLimit,
    creditReserved: body.creditReserved,
  };
}
