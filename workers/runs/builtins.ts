// Tools relay runs itself, in the Worker: the seed's calculator.

export interface BuiltinTool {
  description: string;
  inputSchema: Record<string, unknown>;
  run(input: unknown): unknown;
}

const OPS = ["+", "-", "*", "/"] as const;

export const BUILTIN_TOOLS: Record<string, BuiltinTool> = {
  calculator: {
    description: "Applies one arithmetic operation (+, -, *, /) to two numbers.",
    inputSchema: {
      type: "object",
      properties: {
        a: { type: "number" },
        b: { type: "number" },
        op: { type: "string", enum: [...OPS] },
      },
      required: ["a", "b", "op"],
    },
    run(input) {
      const { a, b, op } = (input ?? {}) as { a?: unknown; b?: unknown; op?: unknown };
      if (typeof a !== "number" || typeof b !== "number" || !OPS.includes(op as (typeof OPS)[number])) {
        return { error: "calculator needs {a: number, b: number, op: '+' | '-' | '*' | '/'}" };
      }
      if (op === "/" && b === 0) return { error: "division by zero" };
      return op === "+" ? a + b : op === "-" ? a - b : op === "*" ? a * b : a / b;
    },
  },
};
