import { useEffect, useRef, useState } from "preact/hooks";
import { api } from "./api";
import { addEvent, type Run, type RunEvent, type StoredEvent, type TimelineItem, timelineOf } from "./runs";

export interface FollowedRun {
  run: Run | undefined;
  timeline: TimelineItem[];
  /** The page is following the run's event stream. */
  live: boolean;
  error: Error | null;
}

/**
 * A run and its timeline, live while it runs. The stored events come first (GET …/events, with the
 * time each was stored); a running run is then followed through the API's own replay-and-follow
 * stream (GET …/events as text/event-stream) from the last stored event on: an EventSource, which
 * sends the session cookie and, when a connection drops, reconnects with Last-Event-ID by itself.
 * The stream ends after the run's last event; the run is then read again for its final usage, cost
 * and the stored times.
 */
export function useRunFollow(id: string): FollowedRun {
  const [state, setState] = useState<FollowedRun>({ run: undefined, timeline: [], live: false, error: null });
  const generation = useRef(0);

  useEffect(() => {
    const mine = ++generation.current;
    const current = () => mine === generation.current;
    let source: EventSource | null = null;
    let ended = false;
    setState({ run: undefined, timeline: [], live: false, error: null });

    const load = () => api<{ run: Run; events: StoredEvent[] }>(`/runs/${encodeURIComponent(id)}/events`);

    const finish = async () => {
      source?.close();
      source = null;
      try {
        const { run, events } = await load();
        if (current()) setState({ run, timeline: timelineOf(events), live: false, error: null });
      } catch (error) {
        if (current()) setState((s) => ({ ...s, live: false, error: error as Error }));
      }
    };

    const follow = (after: number) => {
      source = new EventSource(`/console/api/runs/${encodeURIComponent(id)}/events?after=${after}`);
      source.onmessage = (e: MessageEvent<string>) => {
        const ev = JSON.parse(e.data) as RunEvent;
        if (ev.type === "done" || ev.type === "error") ended = true;
        setState((s) => ({ ...s, timeline: addEvent(s.timeline, Number(e.lastEventId), ev) }));
      };
      source.onerror = () => {
        // The stream closed. After the run's last event that is its end; otherwise the connection
        // dropped and EventSource is reconnecting, unless the answer was an error (then it gave up).
        if (ended || source?.readyState === EventSource.CLOSED) {
          void finish();
          return;
        }
        // A run can also end without a last event (canceled from elsewhere, or its loop lost).
        api<{ run: Run }>(`/runs/${encodeURIComponent(id)}`).then(
          ({ run }) => {
            if (run.status !== "running") void finish();
          },
          () => void finish(),
        );
      };
    };

    load().then(
      ({ run, events }) => {
        if (!current()) return;
        const timeline = timelineOf(events);
        const live = run.status === "running";
        setState({ run, timeline, live, error: null });
        if (live) follow(timeline.at(-1)?.last ?? -1);
      },
      (error: Error) => current() && setState((s) => ({ ...s, error })),
    );
    return () => {
      generation.current++;
      source?.close();
    };
  }, [id]);

  return state;
}
