//! The WebAssembly entry: Portal's pages are rendered on the server; this hydrates the islands
//! in them (the only parts that run in the browser). Moving between pages without a full load is
//! `app/src/navigate.js`'s work, not the WebAssembly's.

// Links the app, so its islands' exports are in the wasm.
#[allow(unused_imports)]
use app as _;

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    leptos::mount::hydrate_islands();
    // For tests (and styles) that tell a page whose script runs from a server-rendered one.
    if let Some(root) = leptos::prelude::document().document_element() {
        let _ = root.set_attribute("data-hydrated", "true");
    }
}
