/**
 * TensorFlow.js from the packages routekit uses, one by one, instead of the `@tensorflow/tfjs`
 * umbrella: that one also installs the WebGL backend and tfjs-data (about 170 MB of the 286 MB
 * it brings), which nothing here runs. Ops and the cpu backend come from tfjs-core and
 * tfjs-backend-cpu, the MLP from tfjs-layers, use-lite's graph model from tfjs-converter; the
 * wasm backend is imported where a backend is chosen (../routers/tf-backend.ts,
 * ../embed/use-lite-model.ts). One copy of tfjs-core serves all of them, so a backend
 * registered by one is seen by all.
 */
import type * as Core from "@tensorflow/tfjs-core";
import type * as Layers from "@tensorflow/tfjs-layers";
import type * as Converter from "@tensorflow/tfjs-converter";

export type Tf = typeof Core & typeof Layers & typeof Converter;

let loaded: Promise<Tf> | null = null;

/** The merged namespace (the shape `@tensorflow/tfjs` exports), imported once, on first use. */
export function importTf(): Promise<Tf> {
  loaded ??= (async () => {
    const [core, layers, converter] = await Promise.all([import("@tensorflow/tfjs-core"), import("@tensorflow/tfjs-layers"), import("@tensorflow/tfjs-converter")]);
    await import("@tensorflow/tfjs-backend-cpu");
    // Namespaces of CommonJS builds carry a `default` too; the named exports are what tf.* means.
    const strip = (m: object) => Object.fromEntries(Object.entries(m).filter(([k]) => k !== "default"));
    return Object.assign({}, strip(core), strip(layers), strip(converter)) as Tf;
  })();
  return loaded;
}
