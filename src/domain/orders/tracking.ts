import { z } from "@hono/zod-openapi";
import type { Queryable } from "../../adapters/db/types.ts";
import { orderStatuses } from "./schemas.ts";
import { findOrderByTrackingNumber, getHistory } from "./store.ts";
import { tokensMatch } from "./tracking-ids.ts";

/**
 * What anyone holding the tracking link may see: status, history at city level, ETA. Never the recipient's name,
 * phone, email or street address: the link travels in emails and gets pasted into chats.
 */
export const TrackingViewSchema = z
  .object({
    tracking_number: z.string().openapi({ example: "CV7K3M9Q2XW4PD" }),
    status: z.enum(orderStatuses),
    destination_city: z.string().openapi({ example: "Bogotá" }),
    estimated_delivery_at: z
      .string()
      .nullable()
      .openapi({ description: "Estimated arrival, once the driver's position is known.", example: null }),
    history: z.array(
      z.object({
        status: z.enum(orderStatuses),
        description: z.string(),
        city: z.string().nullable(),
        occurred_at: z.string(),
      }),
    ),
    updated_at: z.string(),
  })
  .openapi("TrackingView");

export type TrackingView = z.infer<typeof TrackingViewSchema>;

/** The public view, or null for an unknown number and for a wrong token alike (no enumeration). */
export async function getTrackingView(
  db: Queryable,
  trackingNumber: string,
  token: string,
): Promise<TrackingView | null> {
  const order = await findOrderByTrackingNumber(db, trackingNumber);
  if (!order || !tokensMatch(token, order.tracking_token)) return null;
  const history = await getHistory(db, order.id);
  return {
    tracking_number: order.tracking_number,
    status: order.status,
    destination_city: order.destination.city,
    estimated_delivery_at: null,
    history: history.map((row) => ({
      status: row.status,
      description: row.description,
      city: row.city,
      occurred_at: row.occurred_at.toISOString(),
    })),
    updated_at: order.updated_at.toISOString(),
  };
}
