{{- include "[[CHART]].env" (list [[VARIABLE]] [[CANDIDATES]]) }}
