// Reference point for W1: a trivial Express 5 JSON route, measured in the same run.
import express from "express";

const app = express();
app.use(express.json());
app.put("/trivial", (_req, res) => {
  res.json("Ok");
});
app.get("/trivial", (_req, res) => {
  res.json("Ok");
});
app.listen(Number(process.env.PORT), "127.0.0.1");
