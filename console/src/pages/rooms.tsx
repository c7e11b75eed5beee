import { CodeBlock, Empty, ErrorNote, Loading, PageHeader, Pager, Time, usePaged } from "../components/ui";
import { api } from "../lib/api";
import { formatInt, formatMinutes } from "../lib/format";
import { useData } from "../lib/use-data";

/** GET /v1/livekit/rooms (workers/livekit/metering.ts). */
interface Room {
  room: string;
  roomSid: string;
  startedAt: string | null;
  finishedAt: string | null;
  minutes: number;
  participants: { identity: string; joinedAt: string; leftAt: string | null; minutes: number }[];
}

// The API answers the 100 most recently active rooms at most; the console pages through them.
const LIMIT = 100;

export default function Rooms() {
  const { data, error, loading } = useData(() =>
    api<{ rooms: Room[] }>("/livekit/rooms", { query: { limit: LIMIT } }),
  );
  const paged = usePaged(data?.rooms, 10);

  return (
    <section>
      <PageHeader title="LiveKit rooms">
        Rooms this tenant's tokens opened, from LiveKit's signed webhooks: who was there and for how long.
      </PageHeader>
      <ErrorNote error={error} />
      {loading && !data ? (
        <Loading what="rooms" />
      ) : paged.total === 0 ? (
        <Empty title="No rooms yet">
          <p>
            Mint a token for a participant, then point LiveKit's webhooks at relay so rooms and minutes show
            here:
          </p>
          <CodeBlock
            code={`curl -X POST ${location.origin}/v1/livekit/token \\
  -H "authorization: Bearer $RELAY_KEY" -H 'content-type: application/json' \\
  -d '{"room":"standup","identity":"alice"}'

# livekit.yaml
webhook:
  api_key: <LIVEKIT_API_KEY>
  urls: [${location.origin}/api/webhooks/livekit]`}
          />
        </Empty>
      ) : (
        <>
          <ul class="cards">
            {paged.rows.map((r) => (
              <li key={r.roomSid} class="card">
                <h2 class="wrap">{r.room}</h2>
                <dl class="figures">
                  <div>
                    <dt>Started</dt>
                    <dd>
                      <Time iso={r.startedAt} />
                    </dd>
                  </div>
                  <div>
                    <dt>Finished</dt>
                    <dd>
                      {r.finishedAt ? <Time iso={r.finishedAt} /> : <span class="status ok">open</span>}
                    </dd>
                  </div>
                  <div>
                    <dt>Minutes</dt>
                    <dd>{formatMinutes(r.minutes)}</dd>
                  </div>
                  <div>
                    <dt>Participants</dt>
                    <dd>{formatInt(r.participants.length)}</dd>
                  </div>
                </dl>
                {r.participants.length > 0 && (
                  <details>
                    <summary>Participants</summary>
                    <ul class="plain">
                      {r.participants.map((p) => (
                        <li key={`${p.identity}${p.joinedAt}`}>
                          <strong class="wrap">{p.identity}</strong>: <Time iso={p.joinedAt} /> –{" "}
                          {p.leftAt ? <Time iso={p.leftAt} /> : "still there"} ({formatMinutes(p.minutes)})
                        </li>
                      ))}
                    </ul>
                  </details>
                )}
              </li>
            ))}
          </ul>
          <Pager page={paged.page} pages={paged.pages} onPage={paged.setPage} label="Room pages" />
        </>
      )}
    </section>
  );
}
