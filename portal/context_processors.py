from portal.rbac import is_platform_admin, is_security_reviewer


def roles(request):
    user = request.user
    return {
        "is_platform_admin": is_platform_admin(user),
        "is_security_reviewer": is_security_reviewer(user),
    }
