// <strata-planner budget="20" algorithm="fleet"></strata-planner>: Strata's
// planner UI as a custom element, for any docs page. Load this module once:
//   <script type="module" src="/strata/strata-planner.js"></script>
// Each element gets its own app in a shadow root, styled by style.css from
// beside this file, so the page's styles and the app's do not mix.
import init, { mount_planner } from "./strata_web.js";

const ready = init();

class StrataPlanner extends HTMLElement {
  async connectedCallback() {
    if (this.shadowRoot) return;
    const root = this.attachShadow({ mode: "open" });
    const style = document.createElement("link");
    style.rel = "stylesheet";
    style.href = new URL("./style.css", import.meta.url).href;
    const host = document.createElement("div");
    root.append(style, host);
    await ready;
    const budget = Number.parseInt(this.getAttribute("budget") ?? "", 10);
    mount_planner(host, Number.isInteger(budget) && budget > 0 ? budget : undefined,
                  this.getAttribute("algorithm") ?? undefined);
  }
}

if (!customElements.get("strata-planner")) {
  customElements.define("strata-planner", StrataPlanner);
}
