"""Every field of cdig: ``from cdig.collector.fields import resolve, FIELDS …``.

One module per class (evt, proc + thread, user + group, container, fd + fs, k8s),
the shared types in ``base`` and the table with name resolution in ``registry``.
"""

from ..errnos import canonical_errno_name, errno_name, errno_number
from .base import (
    AT_FDCWD,
    FD_ARG_NAMES,
    FD_TYPE_CHARS,
    NA,
    Field,
    FieldClass,
    FieldType,
    FilterOnlyFieldError,
    UnknownFieldError,
    clear_time_cache,
    format_datetime,
    format_time,
    render_args,
    second_texts,
    user_name,
    value_text,
)
from .registry import (
    ARG_FIELD_HELP,
    ARG_PREFIX,
    FIELDS,
    HELP_FIELDS,
    base_name,
    format_field_list,
    format_field_markdown,
    list_fields,
    resolve,
    shared_names,
    suggest,
)

__all__ = [
    "ARG_FIELD_HELP", "ARG_PREFIX", "AT_FDCWD", "FD_ARG_NAMES", "FD_TYPE_CHARS", "FIELDS",
    "HELP_FIELDS", "NA", "Field", "FieldClass", "FieldType", "FilterOnlyFieldError",
    "UnknownFieldError", "base_name", "canonical_errno_name", "clear_time_cache",
    "errno_name", "errno_number", "format_datetime", "format_field_list",
    "format_field_markdown", "format_time", "list_fields", "render_args", "resolve",
    "second_texts", "shared_names", "suggest", "user_name", "value_text",
]
