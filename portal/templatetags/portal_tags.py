from django import template

register = template.Library()


@register.filter
def get_item(mapping, key):
    """mapping[key] in templates (form values and errors are keyed by generated field names)."""
    if mapping is None:
        return None
    return mapping.get(key)


@register.filter
def chunk_lines(chunk):
    """(line number, text) for each line of a stored log chunk."""
    return [(chunk.first_line + i, line) for i, line in enumerate(chunk.text.splitlines())]
