--
-- PostgreSQL database dump
--


-- Dumped from database version 15.20 (Debian 15.20-0+deb12u1)
-- Dumped by pg_dump version 15.20 (Debian 15.20-0+deb12u1)

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

--
-- Name: loom_v1_fixture; Type: SCHEMA; Schema: -; Owner: -
--

CREATE SCHEMA loom_v1_fixture;


--
-- Name: loom_end_claim(); Type: FUNCTION; Schema: loom_v1_fixture; Owner: -
--

CREATE FUNCTION loom_v1_fixture.loom_end_claim() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
  BEGIN
    NEW.claimed_until := NULL;
    RETURN NEW;
  END
  $$;


--
-- Name: loom_notify_work(); Type: FUNCTION; Schema: loom_v1_fixture; Owner: -
--

CREATE FUNCTION loom_v1_fixture.loom_notify_work() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
  BEGIN
    PERFORM pg_notify('loom_work', TG_TABLE_SCHEMA);
    RETURN NULL;
  END
  $$;


--
-- Name: loom_wait_over(text, text, bigint, integer); Type: FUNCTION; Schema: loom_v1_fixture; Owner: -
--

CREATE FUNCTION loom_v1_fixture.loom_wait_over(p_run text, p_waiting text, p_now bigint, p_depth integer) RETURNS boolean
    LANGUAGE plpgsql STABLE
    AS $$
  DECLARE
    w JSONB;
    c RECORD;
  BEGIN
    IF p_waiting IS NULL THEN RETURN true; END IF;
    w := p_waiting::jsonb;
    IF w->>'kind' = 'timer' THEN
      RETURN (w->>'wakeAt')::bigint <= p_now;
    ELSIF w->>'kind' = 'signal' THEN
      RETURN ((w->>'deadline') IS NOT NULL AND (w->>'deadline')::bigint <= p_now)
        OR EXISTS (SELECT 1 FROM signals s WHERE s.run_id = p_run AND s.name = w->>'name'
                     AND s.consumed_by IS NULL AND s.rejected IS NULL);
    ELSIF w->>'kind' = 'child' THEN
      SELECT status, waiting, lease_owner, lease_expires INTO c FROM runs
        WHERE run_id = w->>'childRunId';
      IF NOT FOUND THEN RETURN true; END IF;
      IF c.status = 'waiting' THEN
        IF p_depth > 32 THEN RETURN false; END IF;
        RETURN loom_wait_over(w->>'childRunId', c.waiting, p_now, p_depth + 1);
      END IF;
      RETURN c.status <> 'running' OR c.lease_owner IS NULL OR c.lease_expires < p_now;
    END IF;
    RETURN true;
  END
  $$;


SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: attempts; Type: TABLE; Schema: loom_v1_fixture; Owner: -
--

CREATE TABLE loom_v1_fixture.attempts (
    run_id text NOT NULL,
    step integer NOT NULL,
    scope text NOT NULL,
    attempt integer NOT NULL,
    error text NOT NULL,
    error_type text NOT NULL,
    category text NOT NULL,
    started_at bigint NOT NULL,
    duration_ms double precision NOT NULL,
    retry_at bigint
);


--
-- Name: events; Type: TABLE; Schema: loom_v1_fixture; Owner: -
--

CREATE TABLE loom_v1_fixture.events (
    run_id text NOT NULL,
    seq integer NOT NULL,
    at bigint NOT NULL,
    kind text NOT NULL,
    message text NOT NULL,
    data text
);


--
-- Name: loom_meta; Type: TABLE; Schema: loom_v1_fixture; Owner: -
--

CREATE TABLE loom_v1_fixture.loom_meta (
    key text NOT NULL,
    value text NOT NULL
);


--
-- Name: runs; Type: TABLE; Schema: loom_v1_fixture; Owner: -
--

CREATE TABLE loom_v1_fixture.runs (
    run_id text NOT NULL,
    agent_name text NOT NULL,
    agent_version integer NOT NULL,
    agent_hash text,
    status text NOT NULL,
    parent_run_id text,
    parent_step integer,
    fork_of_run_id text,
    fork_of_step integer,
    first_step integer NOT NULL,
    initial_state text NOT NULL,
    input text,
    result text,
    error text,
    error_category text,
    waiting text,
    policy text NOT NULL,
    patched_step integer,
    patched_state text,
    lease_owner text,
    lease_expires bigint,
    retry_step integer,
    retry_base integer DEFAULT 0 NOT NULL,
    created_at bigint NOT NULL,
    updated_at bigint NOT NULL,
    claimed_until bigint
);


--
-- Name: signals; Type: TABLE; Schema: loom_v1_fixture; Owner: -
--

CREATE TABLE loom_v1_fixture.signals (
    run_id text NOT NULL,
    seq integer NOT NULL,
    name text NOT NULL,
    data text NOT NULL,
    sent_at bigint NOT NULL,
    consumed_by text,
    rejected text
);


--
-- Name: steps; Type: TABLE; Schema: loom_v1_fixture; Owner: -
--

CREATE TABLE loom_v1_fixture.steps (
    run_id text NOT NULL,
    step integer NOT NULL,
    attempt integer NOT NULL,
    started_at bigint NOT NULL,
    duration_ms double precision NOT NULL,
    state text
);


--
-- Name: tool_calls; Type: TABLE; Schema: loom_v1_fixture; Owner: -
--

CREATE TABLE loom_v1_fixture.tool_calls (
    run_id text NOT NULL,
    key text NOT NULL,
    step integer NOT NULL,
    kind text NOT NULL,
    name text NOT NULL,
    args text,
    args_hash text,
    status text NOT NULL,
    result text,
    result_bytes integer,
    result_hash text,
    capped boolean DEFAULT false NOT NULL,
    error text,
    category text,
    attempts integer NOT NULL,
    started_at bigint NOT NULL,
    duration_ms double precision,
    deadline bigint
);


--
-- Data for Name: attempts; Type: TABLE DATA; Schema: loom_v1_fixture; Owner: -
--

INSERT INTO loom_v1_fixture.attempts VALUES ('flaky-failed', 1, '', 1, 'upstream down', 'Error', 'transient', 1796525501780, 0.9532990000000154, 1796525501781);
INSERT INTO loom_v1_fixture.attempts VALUES ('flaky-failed', 1, '', 2, 'upstream down', 'Error', 'transient', 1796525501784, 0.3339679999999987, NULL);


--
-- Data for Name: events; Type: TABLE DATA; Schema: loom_v1_fixture; Owner: -
--

INSERT INTO loom_v1_fixture.events VALUES ('counter-full', 1, 1796525501724, 'started', 'run started by agent counter v1', '{"owner":"vm:17197:14mu84pty914a","agentHash":"89ff7bdbe312874c"}');
INSERT INTO loom_v1_fixture.events VALUES ('counter-compact', 1, 1796525501735, 'started', 'run started by agent counter v1', '{"owner":"vm:17197:5t526vbee22j","agentHash":"89ff7bdbe312874c"}');
INSERT INTO loom_v1_fixture.events VALUES ('approval-waiting', 1, 1796525501745, 'started', 'run started by agent approval v1', '{"owner":"vm:17197:7sh9q261mfzv","agentHash":"52d984cb6ad6c13e"}');
INSERT INTO loom_v1_fixture.events VALUES ('approval-done', 1, 1796525501754, 'started', 'run started by agent approval v1', '{"owner":"vm:17197:1c4obcg1kv8th9","agentHash":"52d984cb6ad6c13e"}');
INSERT INTO loom_v1_fixture.events VALUES ('approval-done', 2, 1796525501761, 'signal-sent', 'signal approve #1 delivered', NULL);
INSERT INTO loom_v1_fixture.events VALUES ('approval-signal-pending', 1, 1796525501762, 'started', 'run started by agent approval v1', '{"owner":"vm:17197:14fv4rn1rgiv1s","agentHash":"52d984cb6ad6c13e"}');
INSERT INTO loom_v1_fixture.events VALUES ('approval-signal-pending', 2, 1796525501767, 'signal-sent', 'signal approve #1 delivered', NULL);
INSERT INTO loom_v1_fixture.events VALUES ('approval-done', 3, 1796525501770, 'resumed', 'resumed from waiting', '{"owner":"vm:17197:bmvrq9an5s6c"}');
INSERT INTO loom_v1_fixture.events VALUES ('approval-done', 4, 1796525501773, 'signal-received', 'step 0 received signal approve #1', NULL);
INSERT INTO loom_v1_fixture.events VALUES ('flaky-failed', 1, 1796525501777, 'started', 'run started by agent flaky v1', '{"owner":"vm:17197:cjw6bwqbzkwi","agentHash":"534d96ad869de005"}');
INSERT INTO loom_v1_fixture.events VALUES ('flaky-failed', 2, 1796525501785, 'failed', 'step 1 failed after 2 attempt(s): transient: upstream down', NULL);
INSERT INTO loom_v1_fixture.events VALUES ('parent-1', 1, 1796525501786, 'started', 'run started by agent parent v1', '{"owner":"vm:17197:mdq6bn1mnfsov","agentHash":"534d96ad869de005"}');
INSERT INTO loom_v1_fixture.events VALUES ('child-1', 1, 1796525501789, 'started', 'run started by agent counter v1 as a child of parent-1', '{"owner":"vm:17197:gwi13a1r9bzl1","agentHash":"89ff7bdbe312874c"}');
INSERT INTO loom_v1_fixture.events VALUES ('counter-fork', 1, 1796525501795, 'forked', 'forked from run counter-full at step 3', NULL);
INSERT INTO loom_v1_fixture.events VALUES ('counter-full', 2, 1796525501795, 'fork-made', 'run counter-fork was forked from step 3', NULL);
INSERT INTO loom_v1_fixture.events VALUES ('counter-queued', 1, 1796525501796, 'queued', 'run queued for agent counter v1', NULL);
INSERT INTO loom_v1_fixture.events VALUES ('counter-paused', 1, 1796525501797, 'started', 'run started by agent counter v1', '{"owner":"vm:17197:oonkt8n76shk","agentHash":"89ff7bdbe312874c"}');


--
-- Data for Name: loom_meta; Type: TABLE DATA; Schema: loom_v1_fixture; Owner: -
--

INSERT INTO loom_v1_fixture.loom_meta VALUES ('application', 'loom');
INSERT INTO loom_v1_fixture.loom_meta VALUES ('schema_version', '1');


--
-- Data for Name: runs; Type: TABLE DATA; Schema: loom_v1_fixture; Owner: -
--

INSERT INTO loom_v1_fixture.runs VALUES ('counter-full', 'counter', 1, '89ff7bdbe312874c', 'completed', NULL, NULL, NULL, NULL, 0, '{"current":0,"target":5}', '{"target":5}', '{"current":5,"steps":5}', NULL, NULL, NULL, '{"checkpoint":"full","every":1,"maxInlineBytes":1048576}', NULL, NULL, NULL, NULL, NULL, 0, 1796525501722, 1796525501733, NULL);
INSERT INTO loom_v1_fixture.runs VALUES ('counter-compact', 'counter', 1, '89ff7bdbe312874c', 'completed', NULL, NULL, NULL, NULL, 0, '{"current":0,"target":12}', '{"target":12}', '{"current":12,"steps":12}', NULL, NULL, NULL, '{"checkpoint":"compact","every":5,"maxInlineBytes":1048576}', NULL, NULL, NULL, NULL, NULL, 0, 1796525501735, 1796525501743, NULL);
INSERT INTO loom_v1_fixture.runs VALUES ('approval-waiting', 'approval', 1, '52d984cb6ad6c13e', 'waiting', NULL, NULL, NULL, NULL, 0, '{"release":"v1.2.3","deployed":false}', NULL, NULL, NULL, NULL, '{"kind":"signal","name":"approve","deadline":1796611901751,"key":"0:signal:approve:0"}', '{"checkpoint":"full","every":1,"maxInlineBytes":1048576}', NULL, NULL, NULL, NULL, NULL, 0, 1796525501744, 1796525501752, NULL);
INSERT INTO loom_v1_fixture.runs VALUES ('approval-signal-pending', 'approval', 1, '52d984cb6ad6c13e', 'waiting', NULL, NULL, NULL, NULL, 0, '{"release":"v1.2.3","deployed":false}', NULL, NULL, NULL, NULL, '{"kind":"signal","name":"approve","deadline":1796611901765,"key":"0:signal:approve:0"}', '{"checkpoint":"full","every":1,"maxInlineBytes":1048576}', NULL, NULL, NULL, NULL, NULL, 0, 1796525501761, 1796525501766, NULL);
INSERT INTO loom_v1_fixture.runs VALUES ('approval-done', 'approval', 1, '52d984cb6ad6c13e', 'completed', NULL, NULL, NULL, NULL, 0, '{"release":"v1.2.3","deployed":false}', NULL, '{"release":"v1.2.3","deployed":true}', NULL, NULL, NULL, '{"checkpoint":"full","every":1,"maxInlineBytes":1048576}', NULL, NULL, NULL, NULL, NULL, 0, 1796525501754, 1796525501775, NULL);
INSERT INTO loom_v1_fixture.runs VALUES ('flaky-failed', 'flaky', 1, '534d96ad869de005', 'failed', NULL, NULL, NULL, NULL, 0, '{"n":0}', NULL, NULL, 'upstream down', 'transient', NULL, '{"checkpoint":"full","every":1,"maxInlineBytes":1048576}', NULL, NULL, NULL, NULL, NULL, 0, 1796525501776, 1796525501784, NULL);
INSERT INTO loom_v1_fixture.runs VALUES ('child-1', 'counter', 1, '89ff7bdbe312874c', 'completed', 'parent-1', 0, NULL, NULL, 0, '{"current":0,"target":2}', '{"target":2}', '{"current":2,"steps":2}', NULL, NULL, NULL, '{"checkpoint":"full","every":1,"maxInlineBytes":1048576}', NULL, NULL, NULL, NULL, NULL, 0, 1796525501788, 1796525501790, NULL);
INSERT INTO loom_v1_fixture.runs VALUES ('parent-1', 'parent', 1, '534d96ad869de005', 'completed', NULL, NULL, NULL, NULL, 0, '{"done":false}', NULL, '"parent done"', NULL, NULL, NULL, '{"checkpoint":"full","every":1,"maxInlineBytes":1048576}', NULL, NULL, NULL, NULL, NULL, 0, 1796525501786, 1796525501792, NULL);
INSERT INTO loom_v1_fixture.runs VALUES ('counter-fork', 'counter', 1, '89ff7bdbe312874c', 'paused', NULL, NULL, 'counter-full', 3, 3, '{"current":3,"target":5}', '{"target":5}', NULL, NULL, NULL, NULL, '{"checkpoint":"full","every":1,"maxInlineBytes":1048576}', NULL, NULL, NULL, NULL, NULL, 0, 1796525501794, 1796525501794, NULL);
INSERT INTO loom_v1_fixture.runs VALUES ('counter-queued', 'counter', 1, '89ff7bdbe312874c', 'queued', NULL, NULL, NULL, NULL, 0, '{"current":0,"target":3}', '{"target":3}', NULL, NULL, NULL, NULL, '{"checkpoint":"full","every":1,"maxInlineBytes":1048576}', NULL, NULL, NULL, NULL, NULL, 0, 1796525501796, 1796525501796, NULL);
INSERT INTO loom_v1_fixture.runs VALUES ('counter-paused', 'counter', 1, '89ff7bdbe312874c', 'paused', NULL, NULL, NULL, NULL, 0, '{"current":0,"target":50}', '{"target":50}', NULL, NULL, NULL, NULL, '{"checkpoint":"full","every":1,"maxInlineBytes":1048576}', NULL, NULL, NULL, NULL, NULL, 0, 1796525501797, 1796525501800, NULL);


--
-- Data for Name: signals; Type: TABLE DATA; Schema: loom_v1_fixture; Owner: -
--

INSERT INTO loom_v1_fixture.signals VALUES ('approval-signal-pending', 1, 'approve', '{"by":"bo"}', 1796525501766, NULL, NULL);
INSERT INTO loom_v1_fixture.signals VALUES ('approval-done', 1, 'approve', '{"by":"ann"}', 1796525501760, '0:signal:approve:0', NULL);


--
-- Data for Name: steps; Type: TABLE DATA; Schema: loom_v1_fixture; Owner: -
--

INSERT INTO loom_v1_fixture.steps VALUES ('counter-full', 0, 1, 1796525501730, 0.08596800000000826, '{"current":1,"target":5}');
INSERT INTO loom_v1_fixture.steps VALUES ('counter-full', 1, 1, 1796525501731, 0.022082999999994968, '{"current":2,"target":5}');
INSERT INTO loom_v1_fixture.steps VALUES ('counter-full', 2, 1, 1796525501732, 0.014502000000007342, '{"current":3,"target":5}');
INSERT INTO loom_v1_fixture.steps VALUES ('counter-full', 3, 1, 1796525501732, 0.011606999999997925, '{"current":4,"target":5}');
INSERT INTO loom_v1_fixture.steps VALUES ('counter-full', 4, 1, 1796525501733, 0.01547300000000007, '{"current":5,"target":5}');
INSERT INTO loom_v1_fixture.steps VALUES ('counter-full', 5, 1, 1796525501733, 0.01900799999999947, NULL);
INSERT INTO loom_v1_fixture.steps VALUES ('counter-compact', 4, 1, 1796525501739, 0.012227999999993244, '{"current":5,"target":12}');
INSERT INTO loom_v1_fixture.steps VALUES ('counter-compact', 0, 1, 1796525501737, 0.01432199999999284, NULL);
INSERT INTO loom_v1_fixture.steps VALUES ('counter-compact', 1, 1, 1796525501737, 0.011286000000012564, NULL);
INSERT INTO loom_v1_fixture.steps VALUES ('counter-compact', 2, 1, 1796525501738, 0.012018000000011853, NULL);
INSERT INTO loom_v1_fixture.steps VALUES ('counter-compact', 3, 1, 1796525501738, 0.025868000000002667, NULL);
INSERT INTO loom_v1_fixture.steps VALUES ('counter-compact', 9, 1, 1796525501742, 0.0071810000000027685, '{"current":10,"target":12}');
INSERT INTO loom_v1_fixture.steps VALUES ('counter-compact', 5, 1, 1796525501740, 0.012449000000003707, NULL);
INSERT INTO loom_v1_fixture.steps VALUES ('counter-compact', 6, 1, 1796525501740, 0.008092000000004873, NULL);
INSERT INTO loom_v1_fixture.steps VALUES ('counter-compact', 7, 1, 1796525501741, 0.007271000000002914, NULL);
INSERT INTO loom_v1_fixture.steps VALUES ('counter-compact', 8, 1, 1796525501741, 0.006508999999994103, NULL);
INSERT INTO loom_v1_fixture.steps VALUES ('counter-compact', 11, 1, 1796525501743, 0.00688100000000702, '{"current":12,"target":12}');
INSERT INTO loom_v1_fixture.steps VALUES ('counter-compact', 12, 1, 1796525501743, 0.02012000000000569, NULL);
INSERT INTO loom_v1_fixture.steps VALUES ('counter-compact', 10, 1, 1796525501743, 0.007101000000005797, NULL);
INSERT INTO loom_v1_fixture.steps VALUES ('approval-done', 0, 1, 1796525501772, 3.8859269999999952, '{"release":"v1.2.3","deployed":true}');
INSERT INTO loom_v1_fixture.steps VALUES ('approval-done', 1, 1, 1796525501776, 0.012518999999997504, NULL);
INSERT INTO loom_v1_fixture.steps VALUES ('flaky-failed', 0, 1, 1796525501778, 1.1809690000000046, '{"n":1}');
INSERT INTO loom_v1_fixture.steps VALUES ('child-1', 0, 1, 1796525501790, 0.007961999999992031, '{"current":1,"target":2}');
INSERT INTO loom_v1_fixture.steps VALUES ('child-1', 1, 1, 1796525501790, 0.00664000000000442, '{"current":2,"target":2}');
INSERT INTO loom_v1_fixture.steps VALUES ('child-1', 2, 1, 1796525501791, 0.0060290000000122745, NULL);
INSERT INTO loom_v1_fixture.steps VALUES ('parent-1', 0, 1, 1796525501787, 4.675692999999995, '{"done":true}');
INSERT INTO loom_v1_fixture.steps VALUES ('parent-1', 1, 1, 1796525501793, 0.004295999999982314, NULL);
INSERT INTO loom_v1_fixture.steps VALUES ('counter-paused', 0, 1, 1796525501799, 0.007391000000012582, '{"current":1,"target":50}');
INSERT INTO loom_v1_fixture.steps VALUES ('counter-paused', 1, 1, 1796525501799, 0.005237999999991416, '{"current":2,"target":50}');
INSERT INTO loom_v1_fixture.steps VALUES ('counter-paused', 2, 1, 1796525501800, 0.006188999999977796, '{"current":3,"target":50}');
INSERT INTO loom_v1_fixture.steps VALUES ('counter-paused', 3, 1, 1796525501800, 0.004686999999989894, '{"current":4,"target":50}');


--
-- Data for Name: tool_calls; Type: TABLE DATA; Schema: loom_v1_fixture; Owner: -
--

INSERT INTO loom_v1_fixture.tool_calls VALUES ('approval-waiting', '0:plan:2002bc26d1763f9d:0', 0, 'tool', 'plan', '{"release":"v1.2.3"}', '2002bc26d1763f9d', 'completed', '{"steps":["drain","switch","verify"]}', 37, 'c4822ebe3df67749', false, NULL, NULL, 1, 1796525501748, 0.5840500000000048, NULL);
INSERT INTO loom_v1_fixture.tool_calls VALUES ('approval-waiting', '0:signal:approve:0', 0, 'signal', 'approve', NULL, NULL, 'started', NULL, NULL, NULL, false, NULL, NULL, 0, 1796525501751, NULL, 1796611901751);
INSERT INTO loom_v1_fixture.tool_calls VALUES ('approval-done', '0:plan:2002bc26d1763f9d:0', 0, 'tool', 'plan', '{"release":"v1.2.3"}', '2002bc26d1763f9d', 'completed', '{"steps":["drain","switch","verify"]}', 37, 'c4822ebe3df67749', false, NULL, NULL, 1, 1796525501756, 0.11740500000000509, NULL);
INSERT INTO loom_v1_fixture.tool_calls VALUES ('approval-signal-pending', '0:plan:2002bc26d1763f9d:0', 0, 'tool', 'plan', '{"release":"v1.2.3"}', '2002bc26d1763f9d', 'completed', '{"steps":["drain","switch","verify"]}', 37, 'c4822ebe3df67749', false, NULL, NULL, 1, 1796525501763, 0.09687399999999968, NULL);
INSERT INTO loom_v1_fixture.tool_calls VALUES ('approval-signal-pending', '0:signal:approve:0', 0, 'signal', 'approve', NULL, NULL, 'started', NULL, NULL, NULL, false, NULL, NULL, 0, 1796525501765, NULL, 1796611901765);
INSERT INTO loom_v1_fixture.tool_calls VALUES ('approval-done', '0:signal:approve:0', 0, 'signal', 'approve', NULL, NULL, 'completed', '{"data":{"by":"ann"}}', 21, '2969f68426eccf2e', false, NULL, NULL, 1, 1796525501758, 14, 1796611901758);
INSERT INTO loom_v1_fixture.tool_calls VALUES ('approval-done', '0:deploy:c6459d58b34b344f:0', 0, 'tool', 'deploy', '{"release":"v1.2.3","plan":{"steps":["drain","switch","verify"]},"by":"ann"}', 'c6459d58b34b344f', 'completed', '{"ok":true}', 11, '4062edaf750fb807', false, NULL, NULL, 1, 1796525501774, 0.13175599999999577, NULL);
INSERT INTO loom_v1_fixture.tool_calls VALUES ('flaky-failed', '0:fetch:f3013f933b9fb80a:0', 0, 'tool', 'fetch', '{"n":0}', 'f3013f933b9fb80a', 'completed', '{"page":"ok ünïcode"}', 23, '2ab7ad546024731b', false, NULL, NULL, 1, 1796525501778, 0.046939999999978, NULL);
INSERT INTO loom_v1_fixture.tool_calls VALUES ('flaky-failed', '1:fetch:2bfd14f43d17fc7c:0', 1, 'tool', 'fetch', '{"n":1}', '2bfd14f43d17fc7c', 'completed', '{"page":"ok ünïcode"}', 23, '2ab7ad546024731b', false, NULL, NULL, 1, 1796525501779, 0.022953999999998587, NULL);
INSERT INTO loom_v1_fixture.tool_calls VALUES ('parent-1', '0:child:child-1', 0, 'child', 'child-1', '{"target":2}', NULL, 'completed', '{"current":2,"steps":2}', 23, 'd253bf9389b479aa', false, NULL, NULL, 1, 1796525501787, 4, NULL);


--
-- Name: attempts attempts_pkey; Type: CONSTRAINT; Schema: loom_v1_fixture; Owner: -
--

ALTER TABLE ONLY loom_v1_fixture.attempts
    ADD CONSTRAINT attempts_pkey PRIMARY KEY (run_id, step, scope, attempt);


--
-- Name: events events_pkey; Type: CONSTRAINT; Schema: loom_v1_fixture; Owner: -
--

ALTER TABLE ONLY loom_v1_fixture.events
    ADD CONSTRAINT events_pkey PRIMARY KEY (run_id, seq);


--
-- Name: loom_meta loom_meta_pkey; Type: CONSTRAINT; Schema: loom_v1_fixture; Owner: -
--

ALTER TABLE ONLY loom_v1_fixture.loom_meta
    ADD CONSTRAINT loom_meta_pkey PRIMARY KEY (key);


--
-- Name: runs runs_pkey; Type: CONSTRAINT; Schema: loom_v1_fixture; Owner: -
--

ALTER TABLE ONLY loom_v1_fixture.runs
    ADD CONSTRAINT runs_pkey PRIMARY KEY (run_id);


--
-- Name: signals signals_pkey; Type: CONSTRAINT; Schema: loom_v1_fixture; Owner: -
--

ALTER TABLE ONLY loom_v1_fixture.signals
    ADD CONSTRAINT signals_pkey PRIMARY KEY (run_id, seq);


--
-- Name: steps steps_pkey; Type: CONSTRAINT; Schema: loom_v1_fixture; Owner: -
--

ALTER TABLE ONLY loom_v1_fixture.steps
    ADD CONSTRAINT steps_pkey PRIMARY KEY (run_id, step);


--
-- Name: tool_calls tool_calls_pkey; Type: CONSTRAINT; Schema: loom_v1_fixture; Owner: -
--

ALTER TABLE ONLY loom_v1_fixture.tool_calls
    ADD CONSTRAINT tool_calls_pkey PRIMARY KEY (run_id, key);


--
-- Name: runs_by_parent; Type: INDEX; Schema: loom_v1_fixture; Owner: -
--

CREATE INDEX runs_by_parent ON loom_v1_fixture.runs USING btree (parent_run_id) WHERE (parent_run_id IS NOT NULL);


--
-- Name: runs_by_status; Type: INDEX; Schema: loom_v1_fixture; Owner: -
--

CREATE INDEX runs_by_status ON loom_v1_fixture.runs USING btree (status, updated_at);


--
-- Name: runs_by_updated; Type: INDEX; Schema: loom_v1_fixture; Owner: -
--

CREATE INDEX runs_by_updated ON loom_v1_fixture.runs USING btree (updated_at);


--
-- Name: runs_unfinished; Type: INDEX; Schema: loom_v1_fixture; Owner: -
--

CREATE INDEX runs_unfinished ON loom_v1_fixture.runs USING btree (updated_at) WHERE ((parent_run_id IS NULL) AND (status = ANY (ARRAY['queued'::text, 'running'::text, 'paused'::text, 'waiting'::text])));


--
-- Name: tool_calls_by_step; Type: INDEX; Schema: loom_v1_fixture; Owner: -
--

CREATE INDEX tool_calls_by_step ON loom_v1_fixture.tool_calls USING btree (run_id, step);


--
-- Name: events events_queued; Type: TRIGGER; Schema: loom_v1_fixture; Owner: -
--

CREATE TRIGGER events_queued AFTER INSERT ON loom_v1_fixture.events FOR EACH ROW WHEN ((new.kind = 'queued'::text)) EXECUTE FUNCTION loom_v1_fixture.loom_notify_work();


--
-- Name: runs runs_end_claim; Type: TRIGGER; Schema: loom_v1_fixture; Owner: -
--

CREATE TRIGGER runs_end_claim BEFORE UPDATE OF status ON loom_v1_fixture.runs FOR EACH ROW WHEN (((new.status <> 'running'::text) AND (old.claimed_until IS NOT NULL))) EXECUTE FUNCTION loom_v1_fixture.loom_end_claim();


--
-- Name: runs runs_paused; Type: TRIGGER; Schema: loom_v1_fixture; Owner: -
--

CREATE TRIGGER runs_paused AFTER INSERT ON loom_v1_fixture.runs FOR EACH ROW WHEN ((new.status = 'paused'::text)) EXECUTE FUNCTION loom_v1_fixture.loom_notify_work();


--
-- Name: runs runs_status; Type: TRIGGER; Schema: loom_v1_fixture; Owner: -
--

CREATE TRIGGER runs_status AFTER UPDATE OF status ON loom_v1_fixture.runs FOR EACH ROW WHEN (((new.status IS DISTINCT FROM old.status) AND (new.status <> 'running'::text))) EXECUTE FUNCTION loom_v1_fixture.loom_notify_work();


--
-- Name: signals signals_added; Type: TRIGGER; Schema: loom_v1_fixture; Owner: -
--

CREATE TRIGGER signals_added AFTER INSERT ON loom_v1_fixture.signals FOR EACH ROW EXECUTE FUNCTION loom_v1_fixture.loom_notify_work();


--
-- PostgreSQL database dump complete
--


