"""The names and codes a draft column map recognizes (:mod:`study.data.draft_map`).

Names are given normalized (lower snake case, no accents) and with a trailing unit, time word or
scale stripped (``first_reply_at`` -> ``first_reply``, ``satisfaction_1_10`` -> ``satisfaction``), in
the styles and languages exports come in: English, Portuguese, Spanish, French, German. A name
added here is recognized everywhere a draft or a "did you mean" is made.
"""

from __future__ import annotations

# Names each contract column goes by, normalized (:func:`normalize`) and with a trailing unit, time
# word or scale stripped (:func:`core`): ``first_reply_at`` -> ``first_reply``, ``satisfaction_1_10``
# -> ``satisfaction``. A column whose core equals one of these is a name match.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "ticket_id": ("ticket", "ticket_number", "ticket_no", "ticket_nr", "ticket_key", "id_ticket", "case_id",
                  "case", "case_number", "case_no", "case_nr", "incident_id", "incident_number", "request_id",
                  "issue_id", "conversation_id", "interaction_id", "order_id", "id", "chamado", "chamado_id",
                  "caso", "caso_id", "numero_caso", "pedido_id", "id_pedido", "ticketnummer", "vorgang_id"),
    "customer_id": ("customer", "customer_number", "customer_no", "customer_unique_id", "customer_key",
                    "account_id", "account", "account_number", "user_id", "user", "client_id", "client",
                    "member_id", "buyer_id", "contact_id", "requester_id", "requester", "cliente", "cliente_id",
                    "id_cliente", "kunde", "kunden_id", "kundennummer"),
    "agent_id": ("agent", "agent_name", "assignee", "assignee_id", "assigned_to", "rep", "rep_id", "owner",
                 "owner_id", "handler", "employee_id", "staff_id", "responder", "atendente", "agente", "mitarbeiter"),
    "created_at": ("created", "creation", "opened", "open", "submitted", "received", "ticket_created",
                   "case_created", "purchase", "purchased", "order_purchase", "order", "ordered", "placed",
                   "requested", "date", "timestamp", "data_criacao", "data_abertura", "fecha_creacion",
                   "fecha", "erstellt", "date_creation"),
    "first_response_minutes": ("first_response", "first_reply", "first_response_minutes", "response", "reply",
                               "time_to_first_response", "time_to_first_reply", "time_to_respond", "frt",
                               "first_responded", "responded", "replied", "first_replied", "tempo_resposta",
                               "tiempo_respuesta", "antwortzeit", "temps_reponse"),
    "resolution_minutes": ("resolution", "time_to_resolution", "time_to_resolve", "resolve", "resolved",
                           "solved", "closed", "close", "handling", "handle", "tempo_resolucao",
                           "tiempo_resolucion"),
    "resolved": ("is_resolved", "solved", "is_solved", "status", "resolution_status", "ticket_status",
                 "case_status", "state", "closed", "is_closed", "resolution", "resolvido", "resuelto", "geloest"),
    "csat": ("csat_score", "csat_rating", "satisfaction", "satisfaction_score", "satisfaction_rating",
             "customer_satisfaction", "rating", "review_score", "review_rating", "score", "stars", "star_rating",
             "survey_score", "sat", "nota", "avaliacao", "satisfacao", "satisfaccion", "puntuacion",
             "calificacion", "note", "zufriedenheit", "bewertung"),
    "repeat_purchase": ("repeat", "repurchase", "repurchased", "bought_again", "purchased_again",
                        "ordered_again", "returned", "returning", "came_back", "repeat_order", "repeat_customer",
                        "rebuy", "retained", "recompra", "voltou", "wiederkauf"),
    "variant": ("group", "arm", "sla_group", "treatment", "treatment_group", "experiment_group", "test_group",
                "ab_group", "bucket", "condition", "grupo", "gruppe"),
    "experiment_id": ("experiment", "experiment_name", "test_id", "test_name", "ab_test"),
    "channel": ("contact_channel", "source", "medium", "via", "canal", "kanal"),
    "category": ("issue_category", "topic", "reason", "contact_reason", "issue_type", "type", "ticket_type",
                 "categoria", "kategorie", "motivo"),
    "loyalty_tier": ("tier", "loyalty", "loyalty_level", "segment", "membership", "membership_tier", "nivel"),
    "tenure_days": ("tenure", "customer_tenure", "account_age", "days_since_first_order"),
    "prior_orders": ("previous_orders", "orders_before", "order_count", "num_orders", "n_orders", "orders",
                     "past_orders"),
    "pre_spend": ("prior_spend", "spend_before", "pre_period_spend", "previous_spend", "past_spend"),
    "order_value": ("order_total", "order_amount", "amount", "price", "total", "payment_value", "value",
                    "revenue", "valor", "valor_pedido"),
    "reopened": ("is_reopened", "reopen", "reopens", "reaberto"),
    "contacts": ("contact_count", "num_contacts", "n_contacts", "number_of_contacts", "touches", "interactions"),
    "quality_score": ("qa_score", "quality", "qa"),
    "days_to_next_purchase": ("days_to_next_order", "days_until_next_purchase", "next_purchase"),
    "next_spend": ("spend_after", "post_spend", "future_spend", "next_period_spend"),
    "team": ("team_id", "team_name", "squad", "region", "region_code", "store", "store_id", "queue", "queue_id",
             "site", "branch", "equipe", "equipo", "regiao", "region_id"),
    "adopted_at": ("adopted", "adoption", "adoption_date", "go_live", "go_live_date", "went_live", "live",
                   "launch", "launched", "launch_date", "rollout", "rollout_date", "rolled_out", "switched"),
    "comment": ("comments", "review", "review_text", "review_comment_message", "feedback", "feedback_text",
                "survey_comment", "verbatim", "remarks", "comentario", "mensagem", "text"),
}
# Words that, anywhere in a name, point to a role (a weaker match than a whole synonym).
PARTS: dict[str, tuple[tuple[str, ...], ...]] = {
    "ticket_id": (("ticket", "id"), ("case", "id"), ("ticket", "number"), ("case", "number")),
    "customer_id": (("customer", "id"), ("customer",), ("account", "id"), ("client", "id"), ("user", "id")),
    "agent_id": (("agent",),),
    "created_at": (("created",), ("opened",), ("creation",), ("purchase", "timestamp")),
    "first_response_minutes": (("first", "response"), ("first", "reply"), ("response", "time")),
    "resolution_minutes": (("resolution", "time"), ("time", "to", "resolution")),
    "csat": (("csat",), ("satisfaction",), ("rating",), ("nota",), ("stars",), ("review", "score")),
    "repeat_purchase": (("repeat",), ("repurchase",), ("bought", "again"), ("purchase", "again")),
    "variant": (("variant",), ("arm",), ("sla", "group"), ("ab", "group"), ("test", "group")),
    "channel": (("channel",),),
    "category": (("category",),),
}
# Codes of a two-valued column, read as yes or no for a yes/no role (lower case, normalized).
YES_CODES = {"solved", "resolved", "closed", "done", "complete", "completed", "fixed", "success", "delivered",
             "returned", "repeat", "bought", "purchased", "retained", "yes", "y", "true", "sim", "si", "oui", "ja",
             "resolvido", "resuelto"}
NO_CODES = {"open", "opened", "pending", "unresolved", "unsolved", "not_solved", "new", "waiting", "on_hold",
            "in_progress", "escalated", "no", "n", "false", "nao", "non", "nein", "aberto", "abierto"}
CONTROL_CODES = {"control", "ctrl", "baseline", "a", "old", "current", "default", "c", "0", "false", "no"}
TREATMENT_CODES = {"treatment", "treated", "test", "b", "new", "variant", "experiment", "t", "1", "true", "yes"}
# Codes of a status column that mark an order or case as finished: a delay is measured on those rows.
DONE_CODES = {"delivered", "completed", "complete", "done", "finished", "closed", "solved", "resolved", "entregue",
              "entregado", "livre", "geliefert"}
