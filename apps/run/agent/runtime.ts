/**
 * What a loom-run run needs besides its state: the chat model and the tool set, built from the
 * run's stored settings (so `resume` needs no flags) and shared by the runs of one process. The
 * chat agent reads them through its per-run `model` and `tools` options.
 *
 * @module
 */
import type { LlmSettings, RunSettings } from "../config.ts";
import { MockProvider } from "../llm/mock.ts";
import { OpenAiProvider } from "../llm/openai.ts";
import type { ChatModel } from "../llm/types.ts";
import { openToolSet, type ToolSet } from "../tools/registry.ts";
import type { Tool } from "../tools/types.ts";
import { EventHub } from "./events.ts";
import { NO_KNOBS, type TestKnobs, withKnobs } from "./test_knobs.ts";

/** The live parts of a run. */
export interface Runtime {
  /** The chat model. */
  llm: ChatModel;
  /** Local and MCP tools, and the MCP processes behind them. */
  tools: ToolSet;
  /** The tools as the chat agent offers them (with the test knobs applied). */
  list: Tool[];
}

/** Options of `Runtimes`. */
export interface RuntimesOptions {
  /** API key of the OpenAI-compatible endpoint. */
  apiKey?: string;
  /** LLM settings that replace the stored ones (e.g. `resume --model other`). */
  llmOverride?: Partial<LlmSettings>;
  /** Test-only knobs (`test_knobs.ts`). */
  knobs?: TestKnobs;
  /** Provider to use instead of the one the settings name (tests). */
  provider?: ChatModel;
  /** Files the local tools never show: the run database of this process. */
  hiddenFiles?: string[];
}

/** Builds and caches runtimes per distinct settings; owns the event hub of the process. */
export class Runtimes {
  /** Events of all runs of this process. */
  readonly events: EventHub = new EventHub();
  /** Test knobs in force. */
  readonly knobs: TestKnobs;
  readonly #options: RuntimesOptions;
  readonly #cache = new Map<string, Promise<Runtime>>();

  /** @param options API key, overrides, knobs */
  constructor(options: RuntimesOptions = {}) {
    this.#options = options;
    this.knobs = options.knobs ?? NO_KNOBS;
  }

  /** The runtime for `settings` (started once, then shared). */
  get(settings: RunSettings): Promise<Runtime> {
    const llm = { ...settings.llm, ...this.#options.llmOverride };
    const key = JSON.stringify([
      settings.workspace,
      settings.mcpConfig,
      settings.testCommand,
      settings.testTimeoutMs,
      llm,
    ]);
    let runtime = this.#cache.get(key);
    if (!runtime) {
      runtime = this.#build(settings, llm);
      this.#cache.set(key, runtime);
      // A failed start must not be cached: the next attempt tries again.
      runtime.catch(() => this.#cache.delete(key));
    }
    return runtime;
  }

  async #build(settings: RunSettings, llm: LlmSettings): Promise<Runtime> {
    const tools = await openToolSet({
      workspace: settings.workspace,
      testCommand: settings.testCommand,
      testTimeoutMs: settings.testTimeoutMs,
      mcpConfig: settings.mcpConfig,
      hiddenFiles: this.#options.hiddenFiles,
    });
    for (const message of tools.warnings) this.events.emit({ type: "warning", runId: "", message });
    const list = [...tools.tools.values()].map((tool) => withKnobs(tool, this.knobs));
    const provider = this.#options.provider ??
      (llm.provider === "mock" ? new MockProvider(llm.model) : new OpenAiProvider({
        baseUrl: llm.baseUrl,
        model: llm.model,
        apiKey: this.#options.apiKey,
        timeoutMs: llm.timeoutMs,
      }));
    return { llm: provider, tools, list };
  }

  /** Stops every MCP server started by this process. */
  async close(): Promise<void> {
    const all = await Promise.allSettled(this.#cache.values());
    this.#cache.clear();
    await Promise.allSettled(
      all.flatMap((r) => r.status === "fulfilled" ? [r.value.tools.close()] : []),
    );
  }
}
