// What this App knows of databases made by upstream's Flask App (ssl-hep/ServiceX `servicex_app/`, alembic
// migrations): the revisions it adopts in place, with the exact schema of upstream's tables at each, and
// the older revisions it recognises only to say what to do. See src/adapters/db/adopt.ts.

export interface UpstreamSchema {
  /** alembic head (`alembic_version.version_num`). */
  revision: string;
  /** Upstream releases whose migrations end at this revision. */
  releases: string;
  /**
   * Upstream's tables as upstream's migrations leave them (pg_dump of a fresh `flask db upgrade`), in the
   * form src/adapters/db/catalog.ts reads: columns `name type [NOT NULL] [DEFAULT expr]`, constraints
   * `name definition`, and the indexes that back no constraint.
   */
  tables: Record<string, { columns: string[]; constraints: string[]; indexes: string[] }>;
  enums: Record<string, string[]>;
  /**
   * Columns of upstream's tables that are NOT NULL without a default and that the App never writes, with
   * the SQL of a BEFORE INSERT trigger body line that fills them (`NEW.<column>` is in scope).
   */
  fills: Record<string, string>;
}

/** v1_3_0: upstream v1.3.0 (2024-01-17) to v1.5.3 and develop f42d1a5 (2024-10-24) all end here. */
export const UPSTREAM_V1_3_0: UpstreamSchema = {
  revision: "v1_3_0",
  releases: "v1.3.0 to v1.5.3",
  tables: {
    alembic_version: {
      columns: ["version_num character varying(32) NOT NULL"],
      constraints: ["alembic_version_pkc PRIMARY KEY (version_num)"],
      indexes: [],
    },
    datasets: {
      columns: [
        "id integer NOT NULL DEFAULT nextval('datasets_id_seq'::regclass)",
        "name character varying(1024) NOT NULL",
        "last_used timestamp without time zone NOT NULL",
        "last_updated timestamp without time zone",
        "did_finder character varying(64) NOT NULL",
        "n_files integer",
        "size bigint",
        "events bigint",
        "lookup_status character varying(16) NOT NULL",
      ],
      constraints: ["datasets_name_key UNIQUE (name)", "datasets_pkey PRIMARY KEY (id)"],
      indexes: ["CREATE INDEX ix_datasets_name ON datasets USING btree (name)"],
    },
    files: {
      columns: [
        "id integer NOT NULL DEFAULT nextval('files_id_seq'::regclass)",
        "dataset_id integer NOT NULL",
        "adler32 character varying(48)",
        "file_size bigint",
        "file_events bigint",
        "paths text NOT NULL",
      ],
      constraints: [
        "files_dataset_id_fkey FOREIGN KEY (dataset_id) REFERENCES datasets(id) ON DELETE CASCADE",
        "files_pkey PRIMARY KEY (id)",
      ],
      indexes: ["CREATE INDEX ix_dataset_id ON files USING btree (dataset_id)"],
    },
    requests: {
      columns: [
        "id integer NOT NULL DEFAULT nextval('requests_id_seq'::regclass)",
        "submit_time timestamp without time zone NOT NULL",
        "did character varying(512) NOT NULL",
        "selection character varying(10485760)",
        "tree_name character varying(512)",
        "request_id character varying(48) NOT NULL",
        "image character varying(128)",
        "workers integer",
        "result_destination character varying(32) NOT NULL",
        "result_format character varying(32) NOT NULL",
        "files integer",
        "total_events bigint",
        "total_bytes bigint",
        "did_lookup_time integer",
        "generated_code_cm character varying(128)",
        "failure_description character varying(10485760)",
        "status transformstatus",
        "submitted_by integer",
        "app_version character varying(64)",
        "code_gen_image character varying(256)",
        "title character varying(128)",
        "finish_time timestamp without time zone",
        "files_completed integer NOT NULL",
        "files_failed integer NOT NULL",
        "transformer_language character varying(256)",
        "transformer_command character varying(256)",
        "did_id integer NOT NULL",
      ],
      constraints: [
        "datasets_requests_fkey FOREIGN KEY (did_id) REFERENCES datasets(id)",
        "requests_pkey PRIMARY KEY (id)",
        "requests_submitted_by_fkey FOREIGN KEY (submitted_by) REFERENCES users(id)",
      ],
      indexes: ["CREATE UNIQUE INDEX ix_requests_request_id ON requests USING btree (request_id)"],
    },
    transform_result: {
      columns: [
        "id integer NOT NULL DEFAULT nextval('transform_result_id_seq'::regclass)",
        "did character varying(512) NOT NULL",
        "file_id integer",
        "file_path character varying(512) NOT NULL",
        "request_id character varying(48) NOT NULL",
        "transform_status character varying(120) NOT NULL",
        "transform_time integer",
        "total_events bigint",
        "total_bytes bigint",
        "avg_rate double precision",
      ],
      constraints: [
        "transform_result_file_id_fkey FOREIGN KEY (file_id) REFERENCES files(id)",
        "transform_result_pkey PRIMARY KEY (id)",
      ],
      indexes: [
        "CREATE INDEX ix_transform_result_request_id ON transform_result USING btree (request_id)",
        "CREATE INDEX ix_transform_result_transform_status ON transform_result USING btree (transform_status)",
      ],
    },
    users: {
      columns: [
        "admin boolean",
        "created_at timestamp without time zone",
        "email character varying(320) NOT NULL",
        "experiment character varying(120)",
        "id integer NOT NULL DEFAULT nextval('users_id_seq'::regclass)",
        "institution character varying(120)",
        "name character varying(120) NOT NULL",
        "pending boolean",
        "refresh_token text",
        "sub character varying(120) NOT NULL",
        "updated_at timestamp without time zone",
      ],
      constraints: [
        "users_email_key UNIQUE (email)",
        "users_pkey PRIMARY KEY (id)",
        "users_refresh_token_key UNIQUE (refresh_token)",
      ],
      indexes: [],
    },
  },
  enums: {
    transformstatus: ["submitted", "pending_lookup", "lookup", "running", "complete", "fatal", "canceled"],
  },
  fills: {
    // Upstream writes the request's DID (the dataset name for file lists) on every result row.
    "transform_result.did": `IF NEW.did IS NULL THEN
      SELECT r.did INTO NEW.did FROM requests r WHERE r.request_id = NEW.request_id;
      NEW.did := COALESCE(NEW.did, '');
    END IF;`,
  },
};

/** Revisions this App adopts. */
export const ADOPTABLE_REVISIONS: Record<string, UpstreamSchema> = {
  [UPSTREAM_V1_3_0.revision]: UPSTREAM_V1_3_0,
};

/** Older upstream heads, newest first, with the releases that end at them. */
export const OLDER_REVISIONS: Record<string, string> = {
  v1_1_4: "v1.1.5 to v1.2.2",
  v1_1_3: "v1.1.3 to v1.1.4",
  "208309600a27": "v1.1.1",
  "79d404108ebe": "v1.0.34 to v1.1.0",
};
