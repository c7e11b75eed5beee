/** Headers that name a client's session, first match wins (the seed's list). */
export const SESSION_HEADERS = ["session-id", "session_id", "x-session-affinity", "x-client-request-id"];
