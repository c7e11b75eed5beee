import type { RunStatus } from "../lib/runs";

const TONE: Record<RunStatus, string> = { running: "live", completed: "ok", failed: "bad", canceled: "" };

export function RunStatusBadge(props: { status: RunStatus }) {
  return (
    <span class={`status ${TONE[props.status]}`} data-status={props.status}>
      {props.status}
    </span>
  );
}
