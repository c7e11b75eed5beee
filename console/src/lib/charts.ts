// Chart.js with only the parts the console draws (bar charts), registered once. Loaded on demand,
// so pages without charts never download it.
import { BarController, BarElement, CategoryScale, Chart, Legend, LinearScale, Tooltip } from "chart.js";

Chart.register(BarController, BarElement, CategoryScale, LinearScale, Legend, Tooltip);

export { Chart };
