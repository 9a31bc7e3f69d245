import { z } from "@hono/zod-openapi";
import type { Queryable } from "../../adapters/db/types.ts";
import { atEndOfTurnWhile } from "../../end-of-turn.ts";
import { estimatedDeliveryAt } from "./lifecycle/operations.ts";
import { orderStatuses } from "./schemas.ts";
import { findTrackedOrders, type TrackedOrder } from "./store.ts";
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
    estimated_delivery_at: z.string().nullable().openapi({
      description:
        "Estimated arrival while the driver is on the way and has reported a position: the straight-line distance from that position to the destination at an average speed (20 km/h unless configured), counted from when the position was recorded; never earlier than now. Null otherwise, and always null when the destination has no coordinates.",
      example: "2026-11-28T15:20:00.000Z",
    }),
    driver: z
      .object({
        first_name: z.string().openapi({ example: "Carlos" }),
        vehicle_plate: z.string().nullable().openapi({ example: "KLM-482" }),
      })
      .nullable()
      .openapi({
        description:
          "The driver bringing the package (first name only): set once a driver is assigned, kept after delivery, null after a failed attempt until the next driver is assigned.",
      }),
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

const driverShownIn = new Set<string>(["DRIVER_ASSIGNED", "NEARBY", "DELIVERED"]);

interface Waiter {
  trackingNumber: string;
  resolve(found: TrackedOrder | null): void;
  reject(error: unknown): void;
}

/**
 * Reads tracked orders for concurrent requests in batches (the DataLoader pattern). The requests of an event-loop
 * turn are sent together at its end while fewer than `maxInFlight` reads are running, so an idle service waits only
 * for the rest of the turn; beyond that, requests queue, and the next read to start takes the whole queue (up to
 * `maxBatch` numbers) in one query. Every request is answered by a read that started after it arrived, so
 * batching never serves older data than a read of its own.
 * Why: at a few thousand tracking requests a second, PostgreSQL's per-statement work and the client's per-query
 * round trip cost more than the index lookups themselves.
 */
export class TrackingReader {
  private queue: Waiter[] = [];
  private inFlight = 0;
  /** Queries made and lookups answered; their ratio is the mean batch size. */
  readonly stats = { queries: 0, lookups: 0 };

  constructor(
    private readonly db: Queryable,
    private readonly options: { maxInFlight: number; maxBatch: number } = { maxInFlight: 4, maxBatch: 100 },
  ) {}

  read(trackingNumber: string): Promise<TrackedOrder | null> {
    return new Promise((resolve, reject) => {
      this.queue.push({ trackingNumber, resolve, reject });
      this.readAtEndOfTurn();
    });
  }

  /** Starts reads for the queue at the end of this event-loop turn, while slots are free (as `OrderCreator`). */
  private readonly readAtEndOfTurn = atEndOfTurnWhile(
    () => this.queue.length > 0 && this.inFlight < this.options.maxInFlight,
    () => this.startRead(),
  );

  private startRead(): void {
    const batch =
      this.queue.length <= this.options.maxBatch ? this.queue : this.queue.slice(0, this.options.maxBatch);
    this.queue = this.queue.length <= this.options.maxBatch ? [] : this.queue.slice(this.options.maxBatch);
    this.inFlight++;
    this.stats.queries++;
    this.stats.lookups += batch.length;
    const numbers = [...new Set(batch.map((waiter) => waiter.trackingNumber))];
    findTrackedOrders(this.db, numbers)
      .then(
        (found) => {
          for (const waiter of batch) waiter.resolve(found.get(waiter.trackingNumber) ?? null);
        },
        (error: unknown) => {
          for (const waiter of batch) waiter.reject(error);
        },
      )
      .finally(() => {
        this.inFlight--;
        if (this.queue.length > 0) this.startRead();
      });
  }
}

// One reader per database handle (the services' db): its batches are that handle's.
const readers = new WeakMap<Queryable, TrackingReader>();

export function trackingReaderFor(db: Queryable): TrackingReader {
  let reader = readers.get(db);
  if (!reader) {
    reader = new TrackingReader(db);
    readers.set(db, reader);
  }
  return reader;
}

/** The public view of a shipment, and where it is going (for the zone its page shows times in; never shown). */
export interface TrackedShipment {
  view: TrackingView;
  destination: { country: string | null; region: string | null };
}

/** The public view, or null for an unknown number and for a wrong token alike (no enumeration). */
export async function getTrackingView(
  db: Queryable,
  trackingNumber: string,
  token: string,
  eta: { averageSpeedKmh: number; now: Date },
): Promise<TrackedShipment | null> {
  const found = await trackingReaderFor(db).read(trackingNumber);
  if (!found || !tokensMatch(token, found.order.tracking_token)) return null;
  const { order, history } = found;
  const view: TrackingView = {
    tracking_number: order.tracking_number,
    status: order.status,
    destination_city: order.destination_city,
    estimated_delivery_at: estimatedDeliveryAt(order, eta)?.toISOString() ?? null,
    // First name only: enough for the recipient to recognise the driver at the door, no more. Only while that
    // driver is the one bringing (or who brought) the package: after a failed attempt nobody is on the way.
    driver:
      order.driver && driverShownIn.has(order.status)
        ? {
            first_name: order.driver.name.trim().split(/\s+/)[0] ?? order.driver.name,
            vehicle_plate: order.driver.vehicle_plate ?? null,
          }
        : null,
    history: history.map((row) => ({
      status: row.status,
      description: row.description,
      city: row.city,
      occurred_at: row.occurred_at.toISOString(),
    })),
    updated_at: order.updated_at.toISOString(),
  };
  return { view, destination: { country: order.destination_country, region: order.destination_region } };
}
