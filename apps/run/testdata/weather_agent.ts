// A chat agent for the regression lab (agent/cassette_test.ts): its endpoint is a run setting,
// so a scenario points it at the cassette server (`input: (env) => ({ settings: { baseUrl:
// env.llm.baseUrl } })`), and a resumed run finds the same endpoint in the store.
import { chatAgent, openAiCompatible, tool } from "../mod.ts";

/** The city forecasts the tool knows. */
const FORECASTS: Record<string, { sky: string; high: number }> = {
  Oslo: { sky: "sunny", high: 21 },
  Bergen: { sky: "rain", high: 14 },
};

/** The weather agent: one `forecast` tool, its model behind `settings.baseUrl`. */
export const weather = chatAgent<{ baseUrl: string }>({
  name: "weather",
  system: "Answer with the tools.",
  model: (settings) =>
    openAiCompatible({ baseUrl: settings.baseUrl, model: "gpt-4o-mini", apiKey: "sk-cassette-0000" }),
  tools: [tool({
    name: "forecast",
    description: "Tomorrow's weather for a city.",
    parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
    run: ({ city }) => ({ city, ...(FORECASTS[city] ?? { sky: "unknown", high: null }) }),
  })],
});
