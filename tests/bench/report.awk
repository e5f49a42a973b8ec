# tests/bench/report.awk: the report of `make bench` (tests/bench/run.sh),
# from the raw lines the parts wrote ("result", "reference", "throughput",
# "wrk", "session", "reason" lines): the tables, the targets as PASS or
# MISS, and last one "ratio NAME=VALUE" line per row, "nan" for a row that
# could not be measured (its reason on a "#" line before). Variables (-v):
# t_start t_tp t_e2e t_status t_p99 (the targets), seconds (the run's time),
# slots. Can be rerun on a kept results file:
#   awk -v slots=2 -v t_start=2 ... -f tests/bench/report.awk RESULTS
function kv(line, key,    re, m) {
	if (match(line, " " key "=[^ ]*")) return substr(line, RSTART + length(key) + 2, RLENGTH - length(key) - 2)
	return ""
}
function verdict(ok) { return ok ? "PASS" : "MISS" }
function pos(v) { return v != "" && v != "NA" && v + 0 > 0 }
# a ratio, or "" with the reason kept for the ratio lines
function ratio(name, a, b, why) {
	if (pos(a) && pos(b)) { r[name] = a / b; return r[name] }
	if (!(name in reason)) reason[name] = why
	return ""
}
function median(list, cnt,    i, j, t, v) {
	for (i = 1; i <= cnt; i++) v[i] = list[i]
	for (i = 2; i <= cnt; i++) for (j = i; j > 1 && v[j - 1] + 0 > v[j] + 0; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
	if (cnt == 0) return ""
	return cnt % 2 ? v[(cnt + 1) / 2] : (v[cnt / 2] + v[cnt / 2 + 1]) / 2
}
function target(name, ok_when, limit, what) {
	if (!(name in r)) { printf "  %-4s %s: not measured (%s)\n", "N/A", what, reason[name]; return }
	printf "  %-4s %s: %.2f (target %s %s)\n",
		verdict(ok_when == "le" ? r[name] <= limit : r[name] >= limit), what, r[name], (ok_when == "le" ? "<=" : ">="), limit
}
/^result / {
	l = kv($0, "label"); m = kv($0, "mode")
	med[l, m] = kv($0, "median_us"); p90[l, m] = kv($0, "p90_us"); n[l, m] = kv($0, "n")
	fails[l, m] = kv($0, "failures")
}
/^throughput / { tp[kv($0, "kind")] = $0 }
/^reference / {
	k = kv($0, "kind"); refjobs[k] += kv($0, "jobs"); refns[k] += kv($0, "ns")
	if (kv($0, "rc") != "0") refbad[k] = "xargs exited " kv($0, "rc")
}
/^wrk / {
	k = kv($0, "kind"); c = ++wn[k]
	wrps[k, c] = kv($0, "rps"); wp99[k, c] = kv($0, "p99_us"); wreq[k, c] = kv($0, "requests")
	if (kv($0, "non2xx") + 0 > 0 || kv($0, "socket_errors") + 0 > 0 || !pos(kv($0, "rps")))
		wbad[k] = wbad[k] sprintf(" round %d: %d non-2xx/3xx, %d socket errors, %s req/s;", c,
			kv($0, "non2xx"), kv($0, "socket_errors"), kv($0, "rps"))
}
/^reason / { nm = $2; sub(/:$/, "", nm); t = $0; sub(/^reason [^ ]* /, "", t); reason[nm] = t }
/^session / { k = kv($0, "kind"); smed[k] = kv($0, "median_us"); sp90[k] = kv($0, "p90_us"); sn[k] = kv($0, "n"); sf[k] = kv($0, "failures") }
END {
	# ---------------------------------------------------------- start-up
	split("true python", labels, " ")
	split("bare sandbox-prepared sandbox sandbox-empty bwrap firejail", modes, " ")
	name["bare"] = "bare"; name["sandbox"] = "sandbox, cold"; name["sandbox-empty"] = "sandbox, cold, no upload"
	name["sandbox-prepared"] = "sandbox, built ahead"
	name["bwrap"] = "bwrap"; name["firejail"] = "firejail"
	printf "\n%-28s %10s %10s %9s %13s %6s\n", "start-up", "median us", "p90 us", "x bare", "+bare (ms)", "n"
	for (i = 1; i <= 2; i++) {
		l = labels[i]
		b = med[l, "bare"]
		for (j = 1; j <= 6; j++) {
			m = modes[j]
			if (!((l, m) in med)) continue
			if (med[l, m] == "NA" || b == "" || b == "NA") {
				printf "%-28s %10s %10s %9s %13s %6s\n", l " " name[m], "NA", "NA", "", "", n[l, m]
				continue
			}
			printf "%-28s %10d %10d %9.2f %+13.2f %6s%s\n", l " " name[m], med[l, m], p90[l, m],
				med[l, m] / b, (med[l, m] - b) / 1000, n[l, m],
				(fails[l, m] > 0 ? "  (" fails[l, m] " failed)" : "")
		}
	}
	# what a job on an idle slot waits for: its sandbox built ahead (runner/job.h); the cold
	# start beside it, and against bwrap, which builds everything at its start too
	ratio("start_true_vs_bare", med["true", "sandbox-prepared"], med["true", "bare"], "no prepared sandbox or bare median for /bin/true")
	ratio("start_true_cold_vs_bare", med["true", "sandbox"], med["true", "bare"], "no sandbox or bare median for /bin/true")
	ratio("start_true_vs_bwrap", med["true", "sandbox"], med["true", "bwrap"], "no bwrap row (bubblewrap not installed?)")
	ratio("start_python_vs_bare", med["python", "sandbox-prepared"], med["python", "bare"], "no prepared sandbox or bare median for python")
	ratio("start_python_vs_bwrap", med["python", "sandbox"], med["python", "bwrap"], "no bwrap row (bubblewrap not installed?)")
	printf "\n"
	for (i = 1; i <= 2; i++) {
		l = labels[i]
		if (med[l, "sandbox"] + 0 > 0 && med[l, "bwrap"] + 0 > 0)
			printf "sandbox vs bwrap, %-7s %.2fx the time (%+.2f ms)\n", l ":",
				med[l, "sandbox"] / med[l, "bwrap"], (med[l, "sandbox"] - med[l, "bwrap"]) / 1000
	}

	# -------------------------------------------------------- throughput
	for (k in refjobs) if (!(k in refbad) && refns[k] > 0) refjps[k] = refjobs[k] / (refns[k] / 1e9)
	jps = ("redis" in tp) ? kv(tp["redis"], "jobs_per_s") : ""
	if ("redis" in tp && kv(tp["redis"], "completed") != kv(tp["redis"], "jobs")) {
		reason["throughput_vs_bare"] = sprintf("only %s of %s jobs completed (%s failed)", kv(tp["redis"], "completed"),
			kv(tp["redis"], "jobs"), kv(tp["redis"], "failed"))
		jps = ""
	}
	e2e = ("http" in tp) ? kv(tp["http"], "end_to_end_jobs_per_s") : ""
	if ("http" in tp && kv(tp["http"], "completed") != kv(tp["http"], "jobs")) {
		reason["e2e_vs_bare"] = sprintf("only %s of %s submissions completed", kv(tp["http"], "completed"), kv(tp["http"], "jobs"))
		e2e = ""
	}
	printf "\n%-44s %10s %9s\n", "trivial jobs (sh true.sh), every slot busy", "jobs/s", "x bare"
	printf "%-44s %10s %9s\n", "bare: xargs -P" slots " sh true.sh", ("bare" in refjps ? sprintf("%.1f", refjps["bare"]) : "NA " refbad["bare"]), "1.00"
	if ("bwrap" in refjobs)
		printf "%-44s %10s %9s\n", "bwrap: xargs -P" slots " bwrap ... sh true.sh", ("bwrap" in refjps ? sprintf("%.1f", refjps["bwrap"]) : "NA " refbad["bwrap"]),
			(("bwrap" in refjps) && ("bare" in refjps) ? sprintf("%.2f", refjps["bwrap"] / refjps["bare"]) : "")
	printf "%-44s %10s %9s\n", "runner (queued in Redis)", (jps == "" ? "NA" : jps),
		(jps != "" && ("bare" in refjps) ? sprintf("%.2f", jps / refjps["bare"]) : "")
	printf "%-44s %10s %9s\n", "end to end (nginx, HTTP/2)", (e2e == "" ? "NA" : e2e),
		(e2e != "" && ("bare" in refjps) ? sprintf("%.2f", e2e / refjps["bare"]) : "")
	if ("redis" in tp) {
		printf "    runner: %s of %s completed, %s failed, in %s s (queued in %s s); slots held by a job %s of the time; machine CPU busy %s\n",
			kv(tp["redis"], "completed"), kv(tp["redis"], "jobs"), kv(tp["redis"], "failed"), kv(tp["redis"], "busy_s"),
			kv(tp["redis"], "queue_s"), kv(tp["redis"], "slot_use"), kv(tp["redis"], "machine_cpu_busy")
	}
	if ("http" in tp)
		printf "    end to end: %s submissions/s accepted; %s of %s completed\n",
			kv(tp["http"], "submits_per_s"), kv(tp["http"], "completed"), kv(tp["http"], "jobs")
	why_ref = ("bare" in refjobs) ? "the bare xargs reference failed: " refbad["bare"] : "no bare xargs reference (the stack did not start?)"
	ratio("throughput_vs_bare", jps, refjps["bare"], ("redis" in tp) ? why_ref : "the runner row was not measured (the stack did not start?)")
	ratio("throughput_vs_bwrap", jps, refjps["bwrap"], ("bwrap" in refjobs) ? "the bwrap reference or the runner row failed" : "no bwrap reference (bubblewrap not installed?)")
	ratio("e2e_vs_bare", e2e, refjps["bare"], ("http" in tp) ? why_ref : "the end-to-end row was not measured")

	# ----------------------------------------------------------- /status
	if (wn["status"] > 0 || wn["static"] > 0) {
		printf "\n%-44s %10s %10s %s\n", "GET over TLS, wrk (median of rounds)", "req/s", "p99 us", "  rounds (req/s)"
		split("status static", wk, " ")
		wname["status"] = "GET /status/{id} (finished job)"; wname["static"] = "static file, same server block"
		for (i = 1; i <= 2; i++) {
			k = wk[i]; delete wa; delete wb; rl = ""
			for (c = 1; c <= wn[k]; c++) { wa[c] = wrps[k, c]; wb[c] = wp99[k, c]; rl = rl " " wrps[k, c] }
			wmed[k] = median(wa, wn[k]); wp[k] = median(wb, wn[k])
			printf "%-44s %10.0f %10.0f   %s\n", wname[k], wmed[k], wp[k], rl
			if (k in wbad) printf "    FAILED %s:%s\n", k, wbad[k]
		}
		if (("status" in wbad) || ("static" in wbad)) {
			reason["status_vs_static"] = reason["status_p99_vs_static"] = "wrk got errors or non-2xx answers (see FAILED above)"
		} else {
			ratio("status_vs_static", wmed["status"], wmed["static"], "no req/s from wrk")
			ratio("status_p99_vs_static", wp["status"], wp["static"], "no p99 from wrk")
		}
	} else {
		if (!("status_vs_static" in reason)) reason["status_vs_static"] = "the /status row did not run (the stack did not start?)"
		reason["status_p99_vs_static"] = reason["status_vs_static"]
	}

	# ---------------------------------------------- the floor under /status
	if (wn["floor_fastcgi"] > 0 || wn["floor_redis"] > 0) {
		printf "\n%-44s %10s %10s %s\n", "the floor under /status (median of rounds)", "req/s", "p99 us", "  rounds (req/s)"
		split("floor_fastcgi floor_redis static_floor", fk, " ")
		wname["floor_fastcgi"] = "FastCGI responder doing nothing"
		wname["floor_redis"] = "... after one Redis round trip"
		wname["static_floor"] = "static file, same rounds"
		for (i = 1; i <= 3; i++) {
			k = fk[i]; delete wa; delete wb; rl = ""
			if (!(wn[k] > 0)) continue
			for (c = 1; c <= wn[k]; c++) { wa[c] = wrps[k, c]; wb[c] = wp99[k, c]; rl = rl " " wrps[k, c] }
			wmed[k] = median(wa, wn[k]); wp[k] = median(wb, wn[k])
			printf "%-44s %10.0f %10.0f   %s\n", wname[k], wmed[k], wp[k], rl
			if (k in wbad) printf "    FAILED %s:%s\n", k, wbad[k]
		}
		split("fastcgi redis", fm, " ")
		for (i = 1; i <= 2; i++) {
			k = "floor_" fm[i]
			if ((k in wbad) || ("static_floor" in wbad)) {
				reason["status_" k "_vs_static"] = reason["status_p99_" k "_vs_static"] = "wrk got errors or non-2xx answers (see FAILED above)"
				continue
			}
			ratio("status_" k "_vs_static", wmed[k], wmed["static_floor"], "no req/s from wrk")
			ratio("status_p99_" k "_vs_static", wp[k], wp["static_floor"], "no p99 from wrk")
		}
	} else if (!("status_floor_fastcgi_vs_static" in reason)) {
		reason["status_floor_fastcgi_vs_static"] = ("status_floor" in reason) ? reason["status_floor"] : "the floor rows did not run"
	}
	split("status_p99_floor_fastcgi_vs_static status_floor_redis_vs_static status_p99_floor_redis_vs_static", fr, " ")
	for (i = 1; i <= 3; i++)
		if (!(fr[i] in r) && !(fr[i] in reason)) reason[fr[i]] = reason["status_floor_fastcgi_vs_static"]

	# ---------------------------------------------------------- sessions
	shb = med["shtrue", "bare"]
	have_sessions = length(smed) > 0
	if (have_sessions) {
		printf "\n%-28s %10s %10s %14s %6s\n", "sessions (through nginx)", "median us", "p90 us", "x sh -c true", "n"
		if (shb != "" && shb != "NA")
			printf "%-28s %10d %10d %14s %6s\n", "bare sh -c true (baseline)", shb, p90["shtrue", "bare"], "1.00", n["shtrue", "bare"]
		split("exec create_warm create_empty", sk, " ")
		sname["exec"] = "exec true (kept-alive)"; sname["create_warm"] = "POST /sessions, warm pool"
		sname["create_empty"] = "POST /sessions, pool empty"
		for (i = 1; i <= 3; i++) {
			k = sk[i]
			if (!(k in smed) || smed[k] == "NA") { printf "%-28s %10s\n", sname[k], "NA"; continue }
			printf "%-28s %10d %10d %14s %6s%s\n", sname[k], smed[k], sp90[k],
				(shb + 0 > 0 ? sprintf("%.2f", smed[k] / shb) : "NA"), sn[k], (sf[k] > 0 ? "  (" sf[k] " failed)" : "")
		}
	}
	ratio("session_exec_vs_bare", smed["exec"], shb, have_sessions ? "no exec or sh -c true median" : "the session rows did not run")
	ratio("session_create_warm_vs_exec", smed["create_warm"], smed["exec"], have_sessions ? "no warm create or exec median" : "the session rows did not run")

	# ----------------------------------------------------------- targets
	printf "\ntargets (issue 14; informational, the exit status is 0 whatever they are):\n"
	target("start_true_vs_bare", "le", t_start, "start of /bin/true, sandbox built ahead / bare")
	if ("start_true_vs_bwrap" in r)
		printf "  %-4s start of /bin/true, cold, below bwrap: %.2f (target < 1)\n", verdict(r["start_true_vs_bwrap"] < 1), r["start_true_vs_bwrap"]
	target("throughput_vs_bare", "ge", t_tp, "runner jobs/s / bare xargs jobs/s")
	target("e2e_vs_bare", "ge", t_e2e, "end-to-end jobs/s / bare xargs jobs/s")
	target("status_vs_static", "ge", t_status, "GET /status req/s / static file req/s")
	target("status_p99_vs_static", "le", t_p99, "GET /status p99 / static file p99")
	if ("status_floor_fastcgi_vs_static" in r && "status_floor_redis_vs_static" in r)
		printf "       the floor under them: a FastCGI responder doing nothing %.2f (p99 %.2f); after one Redis round trip %.2f (p99 %.2f)\n",
			r["status_floor_fastcgi_vs_static"], r["status_p99_floor_fastcgi_vs_static"],
			r["status_floor_redis_vs_static"], r["status_p99_floor_redis_vs_static"]
	target("session_exec_vs_bare", "le", 3, "session exec p50 / bare sh -c true p50")
	target("session_create_warm_vs_exec", "le", 2, "session create (warm pool) p50 / exec p50")

	printf "\n# make bench took %d s\n", seconds
	# ------------------------------------------------- machine-readable
	nr = split("start_true_vs_bare start_true_cold_vs_bare start_true_vs_bwrap start_python_vs_bare start_python_vs_bwrap throughput_vs_bare throughput_vs_bwrap e2e_vs_bare status_vs_static status_p99_vs_static status_floor_fastcgi_vs_static status_p99_floor_fastcgi_vs_static status_floor_redis_vs_static status_p99_floor_redis_vs_static session_exec_vs_bare session_create_warm_vs_exec", rn, " ")
	for (i = 1; i <= nr; i++)
		if (!(rn[i] in r)) printf "# %s not measured: %s\n", rn[i], (rn[i] in reason ? reason[rn[i]] : "unknown")
	for (i = 1; i <= nr; i++)
		if (rn[i] in r) printf "ratio %s=%.3f\n", rn[i], r[rn[i]]
		else printf "ratio %s=nan\n", rn[i]
}
