// `npm run user -- …` from the sources; the command itself is src/cli/user.ts (compiled to dist/cli/user.js,
// which the image's boot.sh runs).
import "../src/cli/user.js";
